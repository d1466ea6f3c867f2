namespace OpenAiRelay.Metering;

/// <summary>The generation endpoints whose responses carry (or should carry) a usage object.</summary>
internal static class MeteredEndpoints
{
    private static readonly HashSet<string> s_postEndpoints = new(StringComparer.Ordinal)
    {
        "/chat/completions", "/completions", "/responses", "/embeddings",
        "/audio/transcriptions", "/audio/translations", "/audio/speech",
        "/images/generations", "/images/edits", "/images/variations",
    };

    public static bool ExpectsUsage(string method, string endpoint)
        => (HttpMethods.IsPost(method) && s_postEndpoints.Contains(endpoint))
           || (HttpMethods.IsGet(method) && endpoint is "/realtime" or "/responses");
}

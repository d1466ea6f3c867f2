namespace OpenAiRelay.Metering;

/// <summary>
/// Which <c>/v1</c> requests the relay reads: generations (whose usage it bills) and reads of stored responses (whose
/// usage it never bills again, but which settle a background generation when they show its final state). Names are
/// matched case-insensitively, as a lenient OpenAI-compatible upstream would route them, so no spelling of a
/// generation endpoint reaches the upstream unmetered (<c>/V1/Chat/Completions</c> is a generation, and OpenAI's
/// own 404 for it costs nothing).
/// </summary>
internal static class MeteredEndpoints
{
    private static readonly HashSet<string> s_postEndpoints = new(StringComparer.OrdinalIgnoreCase)
    {
        "/chat/completions", "/completions", "/responses", "/embeddings",
        "/audio/transcriptions", "/audio/translations", "/audio/speech",
        "/images/generations", "/images/edits", "/images/variations",
    };

    /// <summary>A generation: its response (or WebSocket session) carries usage that is billed once, here.</summary>
    public static bool ExpectsUsage(string method, string endpoint)
        => (HttpMethods.IsPost(method) && s_postEndpoints.Contains(endpoint))
           || (HttpMethods.IsGet(method) && (endpoint.Equals("/realtime", StringComparison.OrdinalIgnoreCase) || endpoint.Equals("/responses", StringComparison.OrdinalIgnoreCase)));

    /// <summary>
    /// <c>GET /responses/{id}</c> or <c>POST /responses/{id}/cancel</c>: a stored response read back. Its usage is the
    /// generation's, already billed (or, for a background generation, billed by the first of these reads that shows a
    /// final status), so the read itself costs nothing.
    /// </summary>
    public static bool IsStoredResponseRead(string method, string endpoint)
    {
        const string prefix = "/responses/";
        if (!endpoint.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = endpoint.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash < 0)
        {
            return rest.Length > 0 && HttpMethods.IsGet(method);
        }

        return slash > 0 && HttpMethods.IsPost(method) && rest[(slash + 1)..].Equals("cancel", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The canonical name a generation is ledgered under (lower case); any other path as it came.</summary>
    public static string LedgerName(string method, string endpoint)
        => ExpectsUsage(method, endpoint) ? endpoint.ToLowerInvariant() : endpoint;

    /// <summary>The final statuses of a Response object; anything else (queued, in_progress) is still running.</summary>
    public static bool IsFinalResponseStatus(string? status)
        => status is "completed" or "incomplete" or "failed" or "cancelled";
}

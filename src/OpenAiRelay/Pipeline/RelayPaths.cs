namespace OpenAiRelay.Pipeline;

/// <summary>The client API's prefix and the one way every stage reads the path below it.</summary>
internal static class RelayPaths
{
    public const string ClientApiPrefix = "/v1";

    /// <summary>
    /// The path after <c>/v1</c> (<c>/chat/completions</c>): what the upstream sees under its base, what metering
    /// classifies and what the ledger names. The request-target filter has already refused the spellings that could
    /// make these disagree (encoded slashes, dot and empty segments, a trailing slash, <c>;</c>).
    /// </summary>
    public static ReadOnlySpan<char> Remainder(HttpRequest request) => request.Path.Value.AsSpan(ClientApiPrefix.Length);
}

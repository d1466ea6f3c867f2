using System.Collections.Frozen;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The endpoint a <c>/v1</c> path belongs to, by its first segment, as a bounded label: a known API family
/// (<c>chat</c>, <c>responses</c>, <c>files</c>, ...) or <c>other</c>. Ids and anything a client invents never become
/// a label value.
/// </summary>
internal static class EndpointLabel
{
    public const string Other = "other";

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> s_known = new[]
    {
        "assistants", "audio", "batches", "chat", "chatkit", "completions", "containers", "conversations", "embeddings",
        "evals", "files", "fine_tuning", "images", "models", "moderations", "organization", "realtime", "responses",
        "skills", "threads", "uploads", "vector_stores", "videos",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <param name="remainder">The path after <c>/v1</c>, for example <c>/chat/completions</c>.</param>
    public static string Of(ReadOnlySpan<char> remainder)
    {
        remainder = remainder.TrimStart('/');
        var end = remainder.IndexOf('/');
        var first = end < 0 ? remainder : remainder[..end];
        // The set's own instance: the label is a constant, whatever case the client wrote.
        return s_known.TryGetValue(first, out var known) ? known : Other;
    }

    /// <summary>For a record's path (<c>/v1/...</c>, no query).</summary>
    public static string OfPath(string? path)
        => path is not null && path.StartsWith("/v1", StringComparison.OrdinalIgnoreCase) ? Of(path.AsSpan(3)) : Other;
}

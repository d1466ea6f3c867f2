using System.Collections.Frozen;

namespace OpenAiRelay.Pipeline;

/// <summary>Groups <c>/v1</c> paths by what they need from the relay: idle timeouts and body limits.</summary>
internal enum EndpointFamily
{
    /// <summary>Models, listings, metadata: short answers.</summary>
    Default,

    /// <summary>Chat, responses, completions, audio, images, realtime: the upstream may think silently for minutes.</summary>
    Generation,

    /// <summary>File and upload-part transfers: large bodies.</summary>
    Files,
}

internal static class EndpointFamilies
{
    // NOTE: looked up by span, case-insensitively, so classifying a request allocates nothing. Lower-casing a copy of
    // the segment cost 32-64 B per request (bench/Microbenchmarks, EndpointClassificationBenchmarks).
    private static readonly FrozenDictionary<string, EndpointFamily>.AlternateLookup<ReadOnlySpan<char>> s_families =
        new Dictionary<string, EndpointFamily>(StringComparer.OrdinalIgnoreCase)
        {
            ["chat"] = EndpointFamily.Generation,
            ["responses"] = EndpointFamily.Generation,
            ["completions"] = EndpointFamily.Generation,
            ["audio"] = EndpointFamily.Generation,
            ["images"] = EndpointFamily.Generation,
            ["realtime"] = EndpointFamily.Generation,
            ["videos"] = EndpointFamily.Generation,
            ["threads"] = EndpointFamily.Generation,
            ["files"] = EndpointFamily.Files,
            ["uploads"] = EndpointFamily.Files,
            ["containers"] = EndpointFamily.Files,
            ["skills"] = EndpointFamily.Files,
        }
        .ToFrozenDictionary(StringComparer.OrdinalIgnoreCase)
        .GetAlternateLookup<ReadOnlySpan<char>>();

    /// <param name="remainder">The path after <c>/v1</c>, for example <c>/chat/completions</c>.</param>
    public static EndpointFamily Classify(ReadOnlySpan<char> remainder)
    {
        remainder = remainder.TrimStart('/');
        var end = remainder.IndexOf('/');
        var first = end < 0 ? remainder : remainder[..end];
        return s_families.TryGetValue(first, out var family) ? family : EndpointFamily.Default;
    }
}

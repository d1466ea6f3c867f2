namespace OpenAiRelay.Forwarding;

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
    /// <param name="remainder">The path after <c>/v1</c>, for example <c>/chat/completions</c>.</param>
    public static EndpointFamily Classify(ReadOnlySpan<char> remainder)
    {
        var first = FirstSegment(remainder);
        return first switch
        {
            "chat" or "responses" or "completions" or "audio" or "images" or "realtime" or "videos" or "threads" => EndpointFamily.Generation,
            "files" or "uploads" or "containers" or "skills" => EndpointFamily.Files,
            _ => EndpointFamily.Default,
        };
    }

    private static string FirstSegment(ReadOnlySpan<char> remainder)
    {
        remainder = remainder.TrimStart('/');
        var end = remainder.IndexOf('/');
        var segment = end < 0 ? remainder : remainder[..end];
        // The switch above compares strings; segments longer than any family name cannot match.
        return segment.Length is > 0 and <= 12 ? segment.ToString().ToLowerInvariant() : string.Empty;
    }
}

namespace OpenAiRelay.Metering;

/// <summary>
/// The largest numbers the relay accepts in an upstream's usage object. A count past these is not a bill but a bug or
/// an attack (an OpenAI-compatible service, a proxy): the usage is unreadable and the row an estimate.
/// </summary>
internal static class UsageLimits
{
    /// <summary>Per token count of one response: about a hundred times the largest context window.</summary>
    public const long MaxTokens = 100_000_000;

    /// <summary>A WebSocket session's summed counts: a thousand responses at the per-response limit.</summary>
    public const long MaxSessionTokens = 1_000 * MaxTokens;

    /// <summary>Duration-billed audio of one request (whisper-1 takes files of 25 MB, minutes long).</summary>
    public const decimal MaxAudioSeconds = 1_000_000;
}

namespace FakeOpenAi.Wire;

/// <summary>
/// Deterministic, plausible token counts (about four characters per token, as OpenAI's rule of thumb says), so
/// that tests can predict the usage the relay should meter.
/// </summary>
internal static class TokenEstimator
{
    public static int Count(string text) => text.Length == 0 ? 0 : Math.Max(1, (text.Length + 3) / 4);

    /// <summary>Chat framing: each message costs its text plus 4 tokens, and the reply is primed with 3 more.</summary>
    public static int ChatPrompt(int messageCount, int textTokens) => textTokens + (4 * messageCount) + 3;
}

namespace OpenAiRelay.Pricing;

/// <summary>
/// USD per one million tokens, and for duration-billed audio (whisper-1) USD per minute. Decimal, never double: money
/// is exact here and integer micro-dollars in the ledger.
/// </summary>
internal sealed record ModelPrice(decimal Input, decimal CachedInput, decimal Output, decimal? PerMinute = null)
{
    /// <summary>
    /// Micro-dollars, rounded half away from zero, or null when the result does not fit (it never throws: this runs on
    /// the settle path). A price per 1M tokens in dollars is, conveniently, the price of one token in micro-dollars.
    /// Cached tokens are part of <paramref name="inputTokens"/> and billed at the cached price; reasoning tokens are
    /// already inside <paramref name="outputTokens"/> (OpenAI reports them that way).
    /// </summary>
    public long? CostMicros(long inputTokens, long cachedTokens, long outputTokens, long audioMilliseconds = 0)
    {
        try
        {
            var input = Math.Max(0, inputTokens);
            var cached = Math.Clamp(cachedTokens, 0, input);
            var micros = ((decimal)(input - cached) * Input) + (cached * CachedInput) + (Math.Max(0, outputTokens) * Output);
            if (PerMinute is { } perMinute && audioMilliseconds > 0)
            {
                // USD per minute to micro-dollars per millisecond: x 1,000,000 / 60,000.
                micros += perMinute * audioMilliseconds * 1_000_000m / 60_000m;
            }

            var rounded = Math.Round(micros, MidpointRounding.AwayFromZero);
            return rounded > long.MaxValue ? null : (long)rounded;
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}

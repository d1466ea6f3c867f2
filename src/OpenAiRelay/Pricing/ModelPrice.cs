namespace OpenAiRelay.Pricing;

/// <summary>USD per one million tokens. Decimal, never double: money is exact here and integer micro-dollars in the ledger.</summary>
internal sealed record ModelPrice(decimal Input, decimal CachedInput, decimal Output)
{
    /// <summary>
    /// Micro-dollars, rounded half away from zero. A price per 1M tokens in dollars is, conveniently, the price of one
    /// token in micro-dollars. Cached tokens are part of <paramref name="inputTokens"/> and billed at the cached price;
    /// reasoning tokens are already inside <paramref name="outputTokens"/> (OpenAI reports them that way).
    /// </summary>
    public long CostMicros(long inputTokens, long cachedTokens, long outputTokens)
    {
        var cached = Math.Clamp(cachedTokens, 0, Math.Max(0, inputTokens));
        var micros = ((Math.Max(0, inputTokens) - cached) * Input) + (cached * CachedInput) + (Math.Max(0, outputTokens) * Output);
        return (long)Math.Round(micros, MidpointRounding.AwayFromZero);
    }
}

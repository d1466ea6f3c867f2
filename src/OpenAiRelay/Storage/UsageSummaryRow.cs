namespace OpenAiRelay.Storage;

/// <summary>
/// Totals for one group of a usage report. <see cref="CostMicros"/> sums only priced rows;
/// <see cref="UnpricedRequests"/> says how many rows had no known price.
/// </summary>
internal sealed record UsageSummaryRow(
    string Group,
    long Requests,
    long InputTokens,
    long CachedTokens,
    long OutputTokens,
    long ReasoningTokens,
    long CostMicros,
    long UnpricedRequests,
    long EstimatedRequests);

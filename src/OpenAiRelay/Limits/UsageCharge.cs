using OpenAiRelay.Storage;

namespace OpenAiRelay.Limits;

/// <summary>What a settled ledger row charges a budget.</summary>
internal static class UsageCharge
{
    /// <summary>
    /// The row's own cost, or null when it is not known yet: a background generation is charged when it completes
    /// upstream, and a model without a price has no cost; null makes the lease keep the whole reservation as spent, so
    /// what the relay cannot price is never free.
    /// </summary>
    public static long? CostOf(UsageRecord row) => row.Outcome == UsageOutcome.Background ? null : row.CostMicros;

    /// <summary>The row's input plus output tokens, or null for a background generation whose usage comes later.</summary>
    public static long? TokensOf(UsageRecord row) => row.Outcome == UsageOutcome.Background ? null : row.InputTokens + row.OutputTokens;
}

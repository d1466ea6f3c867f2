using OpenAiRelay.Storage;

namespace OpenAiRelay.Metering;

/// <summary>The ledger rows the metering stage settled for a request, for the request record (the log, metrics) to read.</summary>
internal interface IUsageSettlementFeature
{
    /// <summary>This request's final row; null until it is settled.</summary>
    UsageRecord? Settled { get; }

    /// <summary>A background generation this read settled (<see cref="UsageSettlement.BackgroundCompletion"/>), if any.</summary>
    UsageRecord? CompletedBackground { get; }

    /// <summary>The <c>model</c> the upstream's answer named (a dated snapshot of the one asked for), if it named one.</summary>
    string? ResponseModel { get; }
}

using OpenAiRelay.Storage;
namespace OpenAiRelay.Ledger;

/// <summary>
/// The request path's door to the usage ledger. Both calls only enqueue: they never block on the database and
/// never throw. Rows are upserted on <see cref="UsageRecord.RequestId"/>, and a settled row is never changed again,
/// so a repeated call cannot count a request twice.
/// </summary>
internal interface IUsageLedger
{
    /// <summary>Records an admitted request as <see cref="UsageOutcome.InFlight"/> before it is forwarded.</summary>
    void Open(UsageRecord inFlight);

    /// <summary>
    /// Records the final state. Fills <see cref="UsageRecord.CostMicros"/> from the price table when it is null, and
    /// returns the record as it was recorded, priced: what a budget settles to.
    /// </summary>
    UsageRecord Settle(UsageRecord final);

    /// <summary>False while ledger writes fail: admission should then answer 503 <c>ledger_unavailable</c> (fail closed).</summary>
    bool IsHealthy { get; }
}

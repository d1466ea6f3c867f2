using OpenAiRelay.Policy;

namespace OpenAiRelay.Limits;

/// <summary>
/// Admission over every limit of a key, in one atomic step: the in-process <see cref="KeyLimiter"/> (one relay), or a
/// store every relay shares.
/// </summary>
internal interface IKeyLimiter
{
    /// <summary>
    /// Admits a request of <paramref name="key"/> under <paramref name="policy"/> with what it may consume at most, or
    /// says which limit refused it; <see cref="KeyLimiter.AdmissionResult.SpendUnknown"/> when the key's budget needs
    /// its spend and the ledger could not be read. A client that leaves cancels the wait, not a load others share.
    /// </summary>
    ValueTask<LimitAdmission> AdmitAsync(string key, KeyPolicy policy, KeyLimiter.Demand demand, CancellationToken cancellationToken);

    /// <summary>Why limits are weaker than configured right now (for <c>/readyz</c>), or null when they are not.</summary>
    string? Degraded { get; }
}

/// <summary>
/// A request's slot and reservations: settled exactly once (a second settlement does nothing), with a token the
/// client's leaving does not cancel.
/// </summary>
internal interface ILimitLease
{
    /// <summary>The budget reservation, in micro-dollars: what a response of unknown cost is charged.</summary>
    long ReservedMicros { get; }

    /// <summary>
    /// Adds what one response of a long session (a WebSocket) cost while the session goes on; returns false when the
    /// key's budget is then used up, so the session should end. Never blocks: called from the session's frame reader.
    /// </summary>
    bool Charge(long tokens, long costMicros, long budgetMicros);

    /// <summary>
    /// Frees the slot and settles the reservations to what was used: <paramref name="tokens"/> (null keeps the token
    /// reservation spent) and <paramref name="costMicros"/> (null charges the whole reservation: unknown is never free).
    /// </summary>
    ValueTask SettleAsync(long? tokens, long? costMicros, CancellationToken cancellationToken);
}

/// <summary>An admission through <see cref="IKeyLimiter"/>: the lease when admitted, what remained, and when to retry.</summary>
internal readonly record struct LimitAdmission(KeyLimiter.AdmissionResult Result, ILimitLease? Lease, KeyLimiter.Remaining Remaining, TimeSpan RetryAfter);

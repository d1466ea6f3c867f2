namespace OpenAiRelay.Storage;

/// <summary>Where a ledger row stands. Only <see cref="InFlight"/> is not terminal.</summary>
internal enum UsageOutcome
{
    /// <summary>Admitted and forwarded; not settled yet.</summary>
    InFlight,
    Completed,
    ClientCancelled,
    UpstreamError,
    Timeout,
    Rejected,

    /// <summary>The process died while the request was in flight; settled at the next start from the admission estimate.</summary>
    Interrupted,
}

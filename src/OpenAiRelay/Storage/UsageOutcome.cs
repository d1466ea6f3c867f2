namespace OpenAiRelay.Storage;

/// <summary>Where a ledger row stands. <see cref="InFlight"/> and <see cref="Background"/> are not final.</summary>
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

    /// <summary>
    /// A background generation the upstream accepted and had not finished when its creating request ended. Settled
    /// once, by the first read of the response that shows a final status; never reconciled as interrupted.
    /// </summary>
    Background,
}

namespace OpenAiRelay.Pipeline;

/// <summary>How a relayed request ended, as the stage that ended it reports it (<see cref="IRequestOutcomeFeature"/>).</summary>
internal enum RequestOutcome
{
    /// <summary>Nothing ended it early: the upstream answered and the answer reached the client.</summary>
    Completed,

    /// <summary>The relay answered itself: a refused target, token, body or limit.</summary>
    Rejected,

    ClientCancelled,

    UpstreamError,

    UpstreamTimeout,
}

namespace OpenAiRelay.Pipeline;

/// <summary>
/// How a stage that ends a request says how it ended. The first report wins: a later stage (or the unwinding of an
/// exception, or the client leaving) cannot rename an outcome an earlier decision already gave, the way YARP's
/// <c>IForwarderErrorFeature</c> carries the forwarder's one error back to the middleware around it.
/// </summary>
internal interface IRequestOutcomeFeature
{
    /// <param name="outcome">Anything but <see cref="RequestOutcome.Completed"/>, which is what no report means.</param>
    /// <param name="reason">
    /// Why, from a closed vocabulary that is safe as a metric label: a refusal's <c>RelayError.Reason</c>
    /// (<c>rpm</c>, <c>budget</c>, <c>isolation</c>, ...) or an upstream failure's kind (<c>connect_error</c>,
    /// <c>idle_timeout</c>, ...). Never a message, an id or anything the client sent.
    /// </param>
    void End(RequestOutcome outcome, string? reason = null);
}

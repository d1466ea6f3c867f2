namespace OpenAiRelay.Pipeline;

/// <summary>
/// How a stage that ends a request says how it ended. The first report wins: a later stage (or the unwinding of an
/// exception, or the client leaving) cannot rename an outcome an earlier decision already gave, the way YARP's
/// <c>IForwarderErrorFeature</c> carries the forwarder's one error back to the middleware around it.
/// </summary>
internal interface IRequestOutcomeFeature
{
    /// <param name="outcome">Anything but <see cref="RequestOutcome.Completed"/>, which is what no report means.</param>
    void End(RequestOutcome outcome);
}

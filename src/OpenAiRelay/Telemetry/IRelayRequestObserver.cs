namespace OpenAiRelay.Telemetry;

/// <summary>
/// Receives every finished <c>/v1</c> request once, on the request's own thread after its ledger row is settled.
/// Must be quick and must not throw: it runs on the request path.
/// </summary>
internal interface IRelayRequestObserver
{
    void OnRequestFinished(RelayRequestRecord record);
}

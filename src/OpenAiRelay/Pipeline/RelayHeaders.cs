namespace OpenAiRelay.Pipeline;

internal static class RelayHeaders
{
    /// <summary>Set on every <c>/v1</c> response, the relay's own errors included: the ledger row's request id.</summary>
    public const string RequestId = "x-relay-request-id";
}

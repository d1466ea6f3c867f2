namespace OpenAiRelay.Pipeline;

/// <summary>What the forwarding stage learnt from the upstream's response that the stages around it record.</summary>
internal interface IUpstreamResponseFeature
{
    /// <summary>The upstream's <c>x-request-id</c>, the handle OpenAI support asks for.</summary>
    string? RequestId { get; }

    /// <summary>Whether the answer is an event stream or a WebSocket session (counted in flight while it lasts).</summary>
    ResponseStreamKind Stream { get; }
}

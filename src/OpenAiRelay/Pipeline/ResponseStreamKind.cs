namespace OpenAiRelay.Pipeline;

/// <summary>Whether an upstream answer stays open while it is relayed, and how.</summary>
internal enum ResponseStreamKind
{
    /// <summary>A response with a body of its own length: JSON, a file, an error.</summary>
    None,

    /// <summary><c>text/event-stream</c>: server-sent events, written to the client as they arrive.</summary>
    EventStream,

    /// <summary>A <c>101 Switching Protocols</c>: a WebSocket session relayed frame by frame.</summary>
    WebSocket,
}

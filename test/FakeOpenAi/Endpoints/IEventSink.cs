namespace FakeOpenAi.Endpoints;

/// <summary>Where a Responses stream goes: SSE (<c>event:</c> + <c>data:</c>) or WebSocket text frames.</summary>
internal interface IEventSink
{
    ValueTask SendAsync(string eventType, ReadOnlyMemory<byte> json);
}

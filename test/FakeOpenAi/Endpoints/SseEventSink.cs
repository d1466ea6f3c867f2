using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>Named SSE events, as the Responses API streams them.</summary>
internal sealed class SseEventSink(SseStream sse) : IEventSink
{
    public ValueTask SendAsync(string eventType, ReadOnlyMemory<byte> json) => sse.WriteEventAsync(eventType, json);
}

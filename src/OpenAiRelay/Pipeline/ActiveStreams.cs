namespace OpenAiRelay.Pipeline;

/// <summary>
/// How many event streams and WebSocket sessions are being relayed right now. The forwarding stage opens one when
/// the upstream's headers say the answer streams and closes it when the forward returns; metrics read the counts.
/// </summary>
internal sealed class ActiveStreams
{
    private long _eventStreams;
    private long _webSockets;

    public long EventStreams => Volatile.Read(ref _eventStreams);

    public long WebSockets => Volatile.Read(ref _webSockets);

    public void Open(ResponseStreamKind kind) => Add(kind, 1);

    public void Close(ResponseStreamKind kind) => Add(kind, -1);

    private void Add(ResponseStreamKind kind, long delta)
    {
        switch (kind)
        {
            case ResponseStreamKind.EventStream:
                Interlocked.Add(ref _eventStreams, delta);
                break;
            case ResponseStreamKind.WebSocket:
                Interlocked.Add(ref _webSockets, delta);
                break;
        }
    }
}

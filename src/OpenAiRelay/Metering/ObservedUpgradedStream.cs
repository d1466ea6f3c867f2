using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>The client's side of an upgraded connection: reads pass through; writes (upstream to client) are metered, then sent.</summary>
internal sealed class ObservedUpgradedStream(Stream inner, WebSocketUsageMeter meter) : DelegatingStream(inner)
{
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        meter.Observe(buffer);
        Inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        meter.Observe(buffer.Span);
        return Inner.WriteAsync(buffer, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync();
        await base.DisposeAsync();
    }
}

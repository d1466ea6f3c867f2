using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// The client's side of an upgraded connection: reads pass through; writes (upstream to client) are metered, then
/// sent. When a response uses up the key's budget, the frame that carried it is sent, then an <c>error</c> event
/// (<c>insufficient_quota</c>) and a close frame (1008, policy violation), and the tunnel ends: the write fails, so
/// the relay stops both directions and the upstream session is closed.
/// </summary>
internal sealed class ObservedUpgradedStream(Stream inner, WebSocketUsageMeter meter, Action onBudgetSpent) : OwningDelegatingStream(inner)
{
    private static readonly byte[] s_budgetSpent = BudgetSpentFrames();

    private bool _stopped;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfStopped();
        var stopAt = meter.Observe(buffer);
        if (stopAt < 0)
        {
            Inner.Write(buffer);
            return;
        }

        Inner.Write(buffer[..stopAt]);
        Inner.Write(s_budgetSpent);
        Inner.Flush();
        Stop();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        var stopAt = meter.Observe(buffer.Span);
        return stopAt < 0 ? Inner.WriteAsync(buffer, cancellationToken) : StopAsync(buffer[..stopAt], cancellationToken);
    }

    private async ValueTask StopAsync(ReadOnlyMemory<byte> last, CancellationToken cancellationToken)
    {
        await Inner.WriteAsync(last, cancellationToken);
        await Inner.WriteAsync(s_budgetSpent, cancellationToken);
        await Inner.FlushAsync(cancellationToken);
        Stop();
    }

    private void Stop()
    {
        _stopped = true;
        onBudgetSpent();
        ThrowIfStopped();
    }

    private void ThrowIfStopped()
    {
        if (_stopped)
        {
            throw new IOException("The key's budget is spent: the relay closed the session.");
        }
    }

    /// <summary>An unmasked text frame with the error event, then a close frame with code 1008 and a short reason.</summary>
    private static byte[] BudgetSpentFrames()
    {
        var error = """{"type":"error","event_id":null,"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"The key's budget is spent; the relay closed the session. The relay operator sets the budget.","param":null,"event_id":null}}"""u8;
        var reason = "budget spent"u8;
        var frames = new List<byte> { 0x81, 126, (byte)(error.Length >> 8), (byte)error.Length };
        frames.AddRange(error.ToArray());
        frames.AddRange([0x88, (byte)(2 + reason.Length), 1008 >> 8, 1008 & 0xFF]);
        frames.AddRange(reason.ToArray());
        return [.. frames];
    }
}

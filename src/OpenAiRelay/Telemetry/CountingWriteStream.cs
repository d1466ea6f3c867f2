using OpenAiRelay.Metering;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// Counts the bytes written to the client, notes when the first one left, and hands each write to the request's
/// <see cref="IResponseBodyMeter"/> (the tee that meters usage). Writes and flushes pass through at once: nothing is
/// buffered here, so a stream's events reach the client as the upstream emits them.
/// </summary>
internal sealed class CountingWriteStream(Stream inner) : Stream
{
    /// <summary>Set once the upstream's response headers are known; null for bodies that are not metered.</summary>
    public IResponseBodyMeter? Meter { get; set; }

    public long BytesWritten { get; private set; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the first body byte, or 0.</summary>
    public long FirstByteTimestamp { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var outgoing = Meter is { } meter ? meter.OnWrite(buffer.ToArray()).Span : buffer;
        Count(outgoing.Length);
        inner.Write(outgoing);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var outgoing = Meter?.OnWrite(buffer) ?? buffer;
        if (outgoing.IsEmpty && !buffer.IsEmpty)
        {
            // The meter held the bytes back (an incomplete event of a trimmed stream).
            return ValueTask.CompletedTask;
        }

        Count(outgoing.Length);
        return inner.WriteAsync(outgoing, cancellationToken);
    }

    /// <summary>The upstream body ended: meter the last bytes and release anything the meter still held.</summary>
    public async Task CompleteMeterAsync(CancellationToken cancellationToken)
    {
        if (Meter is not { } meter)
        {
            return;
        }

        Meter = null;
        var tail = meter.OnEnd();
        if (!tail.IsEmpty)
        {
            Count(tail.Length);
            await inner.WriteAsync(tail, cancellationToken);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Count(int count)
    {
        if (count > 0 && FirstByteTimestamp == 0)
        {
            FirstByteTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        BytesWritten += count;
    }
}

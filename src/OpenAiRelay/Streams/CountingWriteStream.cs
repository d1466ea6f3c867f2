using System.Diagnostics;

namespace OpenAiRelay.Streams;

/// <summary>
/// Counts the bytes written through it and notes when the first one left. Writes and flushes pass through at once:
/// nothing is buffered here, so a stream's events reach the client as the upstream emits them.
/// </summary>
internal sealed class CountingWriteStream(Stream inner) : DelegatingStream(inner)
{
    public long BytesWritten { get; private set; }

    /// <summary><see cref="Stopwatch"/> timestamp of the first body byte, or 0.</summary>
    public long FirstByteTimestamp { get; private set; }

    public override bool CanRead => false;

    public override int Read(Span<byte> buffer) => throw new NotSupportedException();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Count(buffer.Length);
        Inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Count(buffer.Length);
        return Inner.WriteAsync(buffer, cancellationToken);
    }

    private void Count(int count)
    {
        if (count > 0 && FirstByteTimestamp == 0)
        {
            FirstByteTimestamp = Stopwatch.GetTimestamp();
        }

        BytesWritten += count;
    }
}

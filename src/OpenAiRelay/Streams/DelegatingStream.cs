namespace OpenAiRelay.Streams;

/// <summary>
/// A stream that passes every call to an inner stream, so a wrapper overrides only what it changes (the shape of
/// YARP's own <c>DelegatingStream</c>). Every relay wrapper (byte counters, body meters, the multipart model
/// sniffer, the replay of an inspected prefix) derives from it instead of re-implementing <see cref="Stream"/>.
/// </summary>
internal abstract class DelegatingStream(Stream inner) : Stream
{
    protected Stream Inner { get; } = inner;

    public override bool CanRead => Inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => Inner.CanWrite;

    public override bool CanTimeout => Inner.CanTimeout;

    public override int ReadTimeout { get => Inner.ReadTimeout; set => Inner.ReadTimeout = value; }

    public override int WriteTimeout { get => Inner.WriteTimeout; set => Inner.WriteTimeout = value; }

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => Inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Inner.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => Inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        => Inner.WriteAsync(buffer, cancellationToken);

    public override void Flush() => Inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    // NOTE: Begin/End and CopyTo fall back to Stream's defaults, which call the overridden Read/Write above, so a
    // wrapper that observes bytes sees every byte whichever API the caller uses.
}

using System.Security.Cryptography;

namespace FakeOpenAi.Recording;

/// <summary>
/// Wraps the response body and hashes every byte the fake sends, so a test can prove the client received exactly
/// the upstream's bytes (through a relay) even when the content is random (ids, obfuscation padding).
/// </summary>
internal sealed class RecordingResponseStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Lock _lock = new();
    private long _length;
    private MemoryStream? _kept = new();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Observe(buffer);
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Observe(buffer.Span);
        var pending = inner.WriteAsync(buffer, cancellationToken);
        return pending.IsCompletedSuccessfully ? pending : WatchAsync(pending);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        var pending = inner.FlushAsync(cancellationToken);
        return pending.IsCompletedSuccessfully ? pending : WatchAsync(new ValueTask(pending)).AsTask();
    }

    /// <summary>
    /// A write failed because the connection went (reset, aborted): the fake's client, the relay, left mid-response.
    /// The write can fail before Kestrel has signalled RequestAborted, so the failure itself is the evidence.
    /// </summary>
    public bool Broken { get; private set; }

    private async ValueTask WatchAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            Broken = true;
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public (long Length, string Sha256, byte[]? Body) Finish()
    {
        lock (_lock)
        {
            return (_length, Convert.ToHexStringLower(_hash.GetHashAndReset()), _kept?.ToArray());
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Observe(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            _hash.AppendData(bytes);
            _length += bytes.Length;
            if (_kept is not null && _kept.Length + bytes.Length <= 1024 * 1024)
            {
                _kept.Write(bytes);
            }
            else
            {
                // Only the first MiB is kept, like request bodies; the hash covers everything.
                _kept = null;
            }
        }
    }
}

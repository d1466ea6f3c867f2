using System.Security.Cryptography;

namespace FakeOpenAi.Recording;

/// <summary>
/// Wraps the request body and observes every byte the endpoint reads: length, SHA-256, and a copy of the first
/// MiB. The endpoint keeps streaming, so a 100 MB upload never sits in memory.
/// </summary>
internal sealed class RecordingRequestStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private MemoryStream? _kept = new();
    private long _length;

    /// <summary>
    /// A read failed (the connection closed or reset before the declared body ended): the fake's client, the relay,
    /// left mid-upload. Kestrel reports that as an <see cref="IOException"/> without always firing RequestAborted.
    /// </summary>
    public bool Broken { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read;
        try
        {
            read = inner.Read(buffer);
        }
        catch (IOException)
        {
            Broken = true;
            throw;
        }

        Observe(buffer[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException)
        {
            Broken = true;
            throw;
        }

        Observe(buffer.Span[..read]);
        return read;
    }

    /// <summary>Reads whatever the endpoint left unread, so the hash covers the whole body.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (await ReadAsync(buffer, cancellationToken) > 0)
        {
        }
    }

    public (long Length, string Sha256, byte[]? Body) Finish()
    {
        var sha = Convert.ToHexStringLower(_hash.GetHashAndReset());
        return (_length, sha, _kept?.ToArray());
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Observe(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        _hash.AppendData(data);
        _length += data.Length;
        if (_kept is not null)
        {
            if (_length > RecordedRequest.MaxKeptBodyBytes)
            {
                _kept = null;
            }
            else
            {
                _kept.Write(data);
            }
        }
    }
}

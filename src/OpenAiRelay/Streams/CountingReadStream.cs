namespace OpenAiRelay.Streams;

/// <summary>Counts the bytes read through it; everything else passes straight to the inner stream.</summary>
internal sealed class CountingReadStream(Stream inner) : DelegatingStream(inner)
{
    public long BytesRead { get; private set; }

    public override bool CanWrite => false;

    public override int Read(Span<byte> buffer) => Count(Inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Count(await Inner.ReadAsync(buffer, cancellationToken));

    private int Count(int read)
    {
        BytesRead += read;
        return read;
    }
}

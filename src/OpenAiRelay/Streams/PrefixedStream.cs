namespace OpenAiRelay.Streams;

/// <summary>Reads <paramref name="prefix"/> and then the rest of <paramref name="rest"/>: a body partly read for inspection, made whole again.</summary>
internal sealed class PrefixedStream(Stream prefix, Stream rest) : DelegatingStream(rest)
{
    private bool _prefixDone;

    public override bool CanWrite => false;

    public override int Read(Span<byte> buffer)
    {
        if (!_prefixDone)
        {
            var read = prefix.Read(buffer);
            if (read > 0)
            {
                return read;
            }

            _prefixDone = true;
        }

        return Inner.Read(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_prefixDone)
        {
            var read = await prefix.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                return read;
            }

            _prefixDone = true;
        }

        return await Inner.ReadAsync(buffer, cancellationToken);
    }
}

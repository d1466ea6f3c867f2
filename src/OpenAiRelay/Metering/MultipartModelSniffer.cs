using System.Text;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads a multipart upload (audio transcription, image edits) through to the upstream unchanged and picks the
/// <c>model</c> form field out of it on the way, so the ledger can price the request without buffering the file.
/// Only a small window of the most recent bytes is kept, and scanning stops once the field is found.
/// </summary>
internal sealed class MultipartModelSniffer(Stream inner, RequestMeter meter) : DelegatingStream(inner)
{
    private const int Window = 1024;
    private const int MaxValueBytes = 128;

    // Quoted by browsers and most SDKs; .NET's MultipartFormDataContent writes the bare token.
    private static ReadOnlySpan<byte> QuotedFieldName => "name=\"model\""u8;

    private static ReadOnlySpan<byte> BareFieldName => "name=model\r\n"u8;

    private readonly byte[] _window = new byte[Window * 2];
    private int _length;
    private bool _done;

    public override bool CanWrite => false;

    public override int Read(Span<byte> buffer) => Observe(buffer[..Inner.Read(buffer)]);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken);
        return Observe(buffer.Span[..read]);
    }

    private int Observe(ReadOnlySpan<byte> bytes)
    {
        var read = bytes.Length;
        while (!_done && !bytes.IsEmpty)
        {
            var take = Math.Min(bytes.Length, _window.Length - _length);
            bytes[..take].CopyTo(_window.AsSpan(_length));
            _length += take;
            bytes = bytes[take..];
            Scan();
            if (!_done && _length > Window)
            {
                // Keep the tail: a field name or value may straddle two reads.
                _window.AsSpan(_length - Window, Window).CopyTo(_window);
                _length = Window;
            }
        }

        return read;
    }

    private void Scan()
    {
        var data = _window.AsSpan(0, _length);
        var field = data.IndexOf(QuotedFieldName);
        var nameLength = QuotedFieldName.Length;
        if (field < 0)
        {
            field = data.IndexOf(BareFieldName);
            nameLength = BareFieldName.Length - 2;
        }

        if (field < 0)
        {
            return;
        }

        var afterName = data[(field + nameLength)..];
        var headersEnd = afterName.IndexOf("\r\n\r\n"u8);
        if (headersEnd < 0)
        {
            return;
        }

        var value = afterName[(headersEnd + 4)..];
        var valueEnd = value.IndexOf("\r\n"u8);
        if (valueEnd < 0)
        {
            _done = value.Length > MaxValueBytes;
            return;
        }

        if (valueEnd is > 0 and <= MaxValueBytes)
        {
            meter.RequestedModel = Encoding.UTF8.GetString(value[..valueEnd]).Trim();
        }

        _done = true;
    }
}

using System.Text;
using OpenAiRelay.Errors;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads a multipart upload (audio transcription, image edits) through to the upstream unchanged and picks the
/// <c>model</c> form field out of it on the way, so the ledger can price the request without buffering the file.
/// Only a small window of the most recent bytes is kept, and scanning stops once the field is found. With a
/// <see cref="IRequestBodyFeature.FormModelCheck"/> (a key with a model allow-list or a budget), a model it refuses, or
/// a form that ends without one, fails the read that carries it: the upstream never receives a whole request.
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

    public override int Read(Span<byte> buffer) => Observe(buffer[..Inner.Read(buffer)], buffer.IsEmpty);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken);
        return Observe(buffer.Span[..read], buffer.IsEmpty);
    }

    /// <param name="zeroByteRead">A read into an empty buffer (a wait for data, as YARP does), not the end of the body.</param>
    private int Observe(ReadOnlySpan<byte> bytes, bool zeroByteRead)
    {
        var read = bytes.Length;
        if (read == 0 && !zeroByteRead && !_done)
        {
            // The form ended without a model field: a checked key may not send a model-less generation.
            _done = true;
            Check(string.Empty);
        }

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
        if ((FindModelField(data, QuotedFieldName, QuotedFieldName.Length) ?? FindModelField(data, BareFieldName, BareFieldName.Length - 2)) is not { } afterName)
        {
            return;
        }

        var rest = data[afterName..];
        var headersEnd = rest.IndexOf("\r\n\r\n"u8);
        if (headersEnd < 0)
        {
            return;
        }

        var value = rest[(headersEnd + 4)..];
        var valueEnd = value.IndexOf("\r\n"u8);
        if (valueEnd < 0)
        {
            if (value.Length > MaxValueBytes)
            {
                _done = true;
                Check(string.Empty);
            }

            return;
        }

        _done = true;
        if (valueEnd is > 0 and <= MaxValueBytes)
        {
            meter.RequestedModel = Encoding.UTF8.GetString(value[..valueEnd]).Trim();
        }

        Check(meter.RequestedModel ?? string.Empty);
    }

    private void Check(string model)
    {
        if (((IRequestBodyFeature)meter).FormModelCheck?.Invoke(model) is { } refusal)
        {
            throw new RelayRefusalException(refusal);
        }
    }

    /// <summary>
    /// The offset just after the <c>name</c> parameter of the part named <c>model</c>: a parameter of a
    /// <c>Content-Disposition</c> header line, preceded by <c>;</c> or whitespace (so <c>filename="model"</c> is not
    /// it), in a part that is not a file.
    /// </summary>
    private static int? FindModelField(ReadOnlySpan<byte> data, ReadOnlySpan<byte> pattern, int nameLength)
    {
        for (var from = 0; from < data.Length;)
        {
            var found = data[from..].IndexOf(pattern);
            if (found < 0)
            {
                return null;
            }

            var at = from + found;
            from = at + 1;
            if (at == 0 || data[at - 1] is not ((byte)';' or (byte)' ' or (byte)'\t'))
            {
                continue;
            }

            var lineStart = data[..at].LastIndexOf("\n"u8) + 1;
            var lineEnd = data[at..].IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? data[lineStart..] : data[lineStart..(at + lineEnd)];
            if (!line.StartsWith("Content-Disposition:"u8) && !StartsWithIgnoreCase(line, "content-disposition:"u8))
            {
                continue;
            }

            if (line.IndexOf("filename"u8) >= 0)
            {
                continue;
            }

            return at + nameLength;
        }

        return null;
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> line, ReadOnlySpan<byte> lowerPrefix)
    {
        if (line.Length < lowerPrefix.Length)
        {
            return false;
        }

        for (var i = 0; i < lowerPrefix.Length; i++)
        {
            if ((line[i] | 0x20) != lowerPrefix[i] && line[i] != lowerPrefix[i])
            {
                return false;
            }
        }

        return true;
    }
}

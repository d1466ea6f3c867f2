using System.Buffers;
using System.Text.Json;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads the usage of a JSON response as its bytes pass, with a resumable <see cref="Utf8JsonReader"/>: nothing is
/// delayed and only an incomplete token (at most one long string, such as a base64 image) is kept between writes.
/// </summary>
internal sealed class JsonBodyMeter(UsageWalker walker) : IResponseBodyMeter
{
    private readonly ArrayBufferWriter<byte> _carry = new();
    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = 256, CommentHandling = JsonCommentHandling.Skip });
    private bool _failed;

    public ReadOnlyMemory<byte> OnWrite(ReadOnlyMemory<byte> chunk)
    {
        if (!_failed && !chunk.IsEmpty)
        {
            Scan(chunk.Span);
        }

        return chunk;
    }

    public ReadOnlyMemory<byte> OnEnd() => ReadOnlyMemory<byte>.Empty;

    private void Scan(ReadOnlySpan<byte> chunk)
    {
        ReadOnlySpan<byte> input;
        if (_carry.WrittenCount > 0)
        {
            _carry.Write(chunk);
            input = _carry.WrittenSpan;
        }
        else
        {
            input = chunk;
        }

        var reader = new Utf8JsonReader(input, isFinalBlock: false, _state);
        _failed = !walker.Walk(ref reader);
        _state = reader.CurrentState;
        var rest = input[(int)reader.BytesConsumed..];
        if (rest.Length > 64 * 1024 * 1024)
        {
            // A single token this large is no response we meter; stop rather than hold it.
            _failed = true;
        }

        if (_carry.WrittenCount > 0)
        {
            var copy = rest.ToArray();
            _carry.ResetWrittenCount();
            _carry.Write(copy);
        }
        else if (!rest.IsEmpty)
        {
            // NOTE: ArrayBufferWriter allocates (256 B) even for an empty write; most responses never carry anything.
            _carry.Write(rest);
        }
    }
}

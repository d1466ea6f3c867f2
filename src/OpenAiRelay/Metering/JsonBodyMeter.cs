using System.Buffers;
using System.Text.Json;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads the usage of a JSON response as its bytes pass, with a resumable <see cref="Utf8JsonReader"/>: nothing is
/// delayed, and work and memory stay linear and small whatever the body holds. Only an incomplete token is kept
/// between writes; a string longer than <see cref="MaxCarriedBytes"/> (a base64 image) is skipped to its closing quote
/// instead of being carried and rescanned on every write, and the reader resumes as if it had been <c>""</c>.
/// </summary>
internal sealed class JsonBodyMeter(UsageWalker walker) : IResponseBodyMeter
{
    /// <summary>The longest incomplete token carried from one write to the next.</summary>
    public const int MaxCarriedBytes = 64 * 1024;

    private readonly ArrayBufferWriter<byte> _carry = new();
    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = 256, CommentHandling = JsonCommentHandling.Skip });
    private bool _failed;
    private bool _skippingString;
    private bool _skipEscape;

    public ReadOnlyMemory<byte> OnWrite(ReadOnlyMemory<byte> chunk)
    {
        Feed(chunk.Span);
        return chunk;
    }

    /// <summary>Reads the next bytes of the document (also the data of a long SSE event, <see cref="SseBodyMeter"/>).</summary>
    public void Feed(ReadOnlySpan<byte> span)
    {
        if (_failed || span.IsEmpty)
        {
            return;
        }

        if (_skippingString)
        {
            var end = SkipString(span);
            if (end < 0)
            {
                return;
            }

            // The long string ended: the reader, whose state stopped before it, reads "" in its place.
            _skippingString = false;
            _carry.ResetWrittenCount();
            _carry.Write("\"\""u8);
            span = span[end..];
        }

        Scan(span);
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
        if (rest.Length > MaxCarriedBytes)
        {
            var start = rest.IndexOfAnyExcept(" \t\r\n"u8);
            if (start >= 0 && rest[start] == (byte)'"')
            {
                // NOTE: carrying a multi-megabyte string and rescanning it on every write made a 20 MB image
                // quadratic. Its value is never needed (usage, model and ids are short), so skip to its end.
                _skipEscape = false;
                _skippingString = SkipString(rest[(start + 1)..]) < 0;
                _carry.Clear();
                return;
            }

            // Any other token this long (a number, a name) is no response we meter.
            _failed = true;
            _carry.Clear();
            return;
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

    /// <summary>Offset just past the unescaped closing quote, or -1 when the string goes on (escape state kept).</summary>
    private int SkipString(ReadOnlySpan<byte> bytes)
    {
        var position = 0;
        if (_skipEscape && !bytes.IsEmpty)
        {
            _skipEscape = false;
            position = 1;
        }

        while (position < bytes.Length)
        {
            var next = bytes[position..].IndexOfAny((byte)'"', (byte)'\\');
            if (next < 0)
            {
                return -1;
            }

            position += next;
            if (bytes[position] == (byte)'"')
            {
                return position + 1;
            }

            // A backslash escapes the next byte, which may be in the next write.
            if (position + 1 >= bytes.Length)
            {
                _skipEscape = true;
                return -1;
            }

            position += 2;
        }

        return -1;
    }
}

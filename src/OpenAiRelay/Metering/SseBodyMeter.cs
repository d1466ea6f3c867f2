using System.Buffers;
using System.Text.Json;

namespace OpenAiRelay.Metering;

/// <summary>
/// Meters an event stream event by event as it passes. In observe mode every byte is forwarded the moment it
/// arrives. In trim mode (the relay added <c>stream_options.include_usage</c> for a client that did not ask) each
/// complete event is forwarded as soon as its blank line arrives, except the usage-only chunk, and the
/// <c>"usage":null</c> the upstream then adds to every chunk is cut, so the client receives the stream it would have
/// received without the relay. Only an incomplete event is ever held back, and at most <see cref="MaxHeldBytes"/> of it:
/// a longer event (a Responses stream's <c>response.completed</c> carrying a base64 image) is read as it streams, its
/// data fed to a <see cref="JsonBodyMeter"/>, so memory per stream stays bounded whatever one event holds.
/// </summary>
internal sealed class SseBodyMeter(UsageWalker walker, bool trimInjectedUsage) : IResponseBodyMeter
{
    /// <summary>
    /// The largest incomplete event held back (as <see cref="JsonBodyMeter"/> caps a single carried token). Past this
    /// the event is streamed: passed on (in trim mode untrimmed, since the usage-only chunk it would cut is small) and
    /// read incrementally, so its usage still counts.
    /// </summary>
    public const int MaxHeldBytes = 64 * 1024;

    // Held for the stream's whole life (1,000 open streams hold 1,000 of each), so each buffer is allocated only when
    // it is needed: _pending when an event is split across writes, _output only in trim mode, _payload only for an
    // event with several data lines (a single data line, what OpenAI sends, is read in place).
    private ArrayBufferWriter<byte> _pending = new();
    private ArrayBufferWriter<byte>? _output;
    private ArrayBufferWriter<byte>? _payload;
    private StreamedEvent? _streamed;

    private ArrayBufferWriter<byte> Output => _output ??= new ArrayBufferWriter<byte>();

    /// <summary>Bytes of an incomplete event held back right now.</summary>
    internal int HeldBytes => _pending.WrittenCount;

    public ReadOnlyMemory<byte> OnWrite(ReadOnlyMemory<byte> chunk)
    {
        _output?.ResetWrittenCount();
        if (_streamed is { } streamed)
        {
            // The rest of a long event passes untouched while its data is read; held mode resumes with the next event.
            var end = streamed.Feed(chunk.Span);
            if (end < 0)
            {
                if (trimInjectedUsage)
                {
                    Output.Write(chunk.Span);
                }

                return trimInjectedUsage ? Output.WrittenMemory : chunk;
            }

            _streamed = null;
            if (trimInjectedUsage)
            {
                Output.Write(chunk.Span[..end]);
            }

            OnWriteEvents(chunk[end..]);
            return trimInjectedUsage ? (_output?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty) : chunk;
        }

        OnWriteEvents(chunk);
        return trimInjectedUsage ? (_output?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty) : chunk;
    }

    private void OnWriteEvents(ReadOnlyMemory<byte> chunk)
    {
        if (_pending.WrittenCount == 0)
        {
            var consumed = ConsumeEvents(chunk.Span);
            if (consumed < chunk.Length)
            {
                // NOTE: ArrayBufferWriter allocates even for an empty write.
                _pending.Write(chunk.Span[consumed..]);
            }
        }
        else
        {
            // Only the new bytes (and the 3 before them, for a split "\r\n\r\n") can complete the held event: a
            // large event arriving in small writes costs linear time, not a rescan and a copy per write.
            var searchFrom = Math.Max(0, _pending.WrittenCount - 3);
            _pending.Write(chunk.Span);
            if (EventEnd(_pending.WrittenSpan[searchFrom..]) >= 0)
            {
                var consumed = ConsumeEvents(_pending.WrittenSpan);
                var rest = _pending.WrittenSpan[consumed..].ToArray();
                _pending.ResetWrittenCount();
                _pending.Write(rest);
            }
        }

        if (_pending.WrittenCount > MaxHeldBytes)
        {
            // Stream this event from here: read what was held (it holds no event end), release it in trim mode
            // (observe mode already passed it on), and let go of the buffer so a stream never keeps a large one.
            var streamed = new StreamedEvent(walker);
            streamed.Feed(_pending.WrittenSpan);
            if (trimInjectedUsage)
            {
                Output.Write(_pending.WrittenSpan);
            }

            _pending = new ArrayBufferWriter<byte>();
            _streamed = streamed;
        }
    }

    public ReadOnlyMemory<byte> OnEnd()
    {
        // A last event without its blank line: meter it, and in trim mode release it as it came.
        _output?.ResetWrittenCount();
        if (_pending.WrittenCount > 0)
        {
            var tail = _pending.WrittenSpan.ToArray();
            _pending.ResetWrittenCount();
            HandleEvent(tail);
        }

        return trimInjectedUsage ? (_output?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty) : ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>Handles every complete event in <paramref name="buffer"/>; returns the bytes consumed.</summary>
    private int ConsumeEvents(ReadOnlySpan<byte> buffer)
    {
        var consumed = 0;
        while (true)
        {
            var end = EventEnd(buffer[consumed..]);
            if (end < 0)
            {
                return consumed;
            }

            HandleEvent(buffer.Slice(consumed, end));
            consumed += end;
        }
    }

    /// <summary>Length of the first event including its terminating blank line, or -1 (SSE allows \n and \r\n).</summary>
    private static int EventEnd(ReadOnlySpan<byte> buffer)
    {
        var lf = buffer.IndexOf("\n\n"u8);
        var crlf = buffer.IndexOf("\r\n\r\n"u8);
        if (lf < 0 && crlf < 0)
        {
            return -1;
        }

        return lf >= 0 && (crlf < 0 || lf < crlf) ? lf + 2 : crlf + 4;
    }

    private void HandleEvent(ReadOnlySpan<byte> rawEvent)
    {
        var payloadOffset = ReadPayload(rawEvent, out var payload);
        if (payload.Length > 1 && payload[0] == (byte)'{')
        {
            walker.BeginEvent();
            var reader = new Utf8JsonReader(payload, isFinalBlock: true, state: default);
            walker.Walk(ref reader);
            if (trimInjectedUsage)
            {
                if (walker.EventHadUsage && walker.EmptyChoices)
                {
                    return;
                }

                if (walker.NullUsageRange is { } range && payloadOffset >= 0)
                {
                    var (start, end) = WithComma(payload, range.Start, range.End);
                    Output.Write(rawEvent[..(payloadOffset + start)]);
                    Output.Write(rawEvent[(payloadOffset + end)..]);
                    return;
                }
            }
        }

        if (trimInjectedUsage)
        {
            Output.Write(rawEvent);
        }
    }

    /// <summary>
    /// Finds the event's data. Returns the payload's offset within the raw event when it is one <c>data:</c> line
    /// (the case that can be edited in place), or -1 when several data lines were joined.
    /// </summary>
    private int ReadPayload(ReadOnlySpan<byte> rawEvent, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        var offset = -1;
        var lines = 0;
        var position = 0;
        while (position < rawEvent.Length)
        {
            var lineEnd = rawEvent[position..].IndexOf((byte)'\n');
            var line = lineEnd < 0 ? rawEvent[position..] : rawEvent.Slice(position, lineEnd);
            var lineStart = position;
            position = lineEnd < 0 ? rawEvent.Length : position + lineEnd + 1;
            if (line.EndsWith("\r"u8))
            {
                line = line[..^1];
            }

            if (!line.StartsWith("data:"u8))
            {
                continue;
            }

            var skip = line.Length > 5 && line[5] == (byte)' ' ? 6 : 5;
            if (lines++ == 0)
            {
                // The usual single data line is used in place, without a copy.
                payload = line[skip..];
                offset = lineStart + skip;
                continue;
            }

            var joined = _payload ??= new ArrayBufferWriter<byte>();
            if (lines == 2)
            {
                joined.ResetWrittenCount();
                joined.Write(payload);
            }

            joined.Write("\n"u8);
            joined.Write(line[skip..]);
        }

        if (lines > 1)
        {
            payload = _payload!.WrittenSpan;
        }

        return lines == 1 ? offset : -1;
    }

    /// <summary>Widens a removed property's range to take one neighbouring comma, keeping the JSON valid.</summary>
    private static (int Start, int End) WithComma(ReadOnlySpan<byte> json, int start, int end)
    {
        for (var i = start - 1; i >= 0; i--)
        {
            if (json[i] == (byte)',')
            {
                return (i, end);
            }

            if (json[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                break;
            }
        }

        for (var i = end; i < json.Length; i++)
        {
            if (json[i] == (byte)',')
            {
                return (start, i + 1);
            }

            if (json[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                break;
            }
        }

        return (start, end);
    }

    /// <summary>
    /// One event read as it streams: the SSE lines are parsed byte by byte across writes, and the data of its
    /// <c>data:</c> lines goes to a <see cref="JsonBodyMeter"/> (which carries at most one short token and skips long
    /// strings), so nothing of the event is held.
    /// </summary>
    private sealed class StreamedEvent
    {
        private static ReadOnlySpan<byte> DataField => "data:"u8;

        private readonly JsonBodyMeter _json;
        private LineState _state = LineState.Start;
        private int _fieldMatched;
        private bool _lineHadByte;
        private int _dataLines;

        public StreamedEvent(UsageWalker walker)
        {
            walker.BeginEvent();
            _json = new JsonBodyMeter(walker);
        }

        private enum LineState
        {
            Start,
            Field,
            Data,
            Other,
        }

        /// <summary>Reads the next bytes of the event; returns the offset just past its terminating blank line, or -1.</summary>
        public int Feed(ReadOnlySpan<byte> bytes)
        {
            var position = 0;
            while (position < bytes.Length)
            {
                if (_state == LineState.Data)
                {
                    // The bulk of a long event: hand the line's bytes over in one piece (a trailing \r is JSON whitespace).
                    var lineEnd = bytes[position..].IndexOf((byte)'\n');
                    var data = lineEnd < 0 ? bytes[position..] : bytes.Slice(position, lineEnd);
                    _json.Feed(data);
                    if (lineEnd < 0)
                    {
                        return -1;
                    }

                    position += lineEnd + 1;
                    _state = LineState.Start;
                    _lineHadByte = false;
                    continue;
                }

                var b = bytes[position++];
                if (b == (byte)'\n')
                {
                    if (_state == LineState.Start && !_lineHadByte)
                    {
                        return position;
                    }

                    _state = LineState.Start;
                    _lineHadByte = false;
                    continue;
                }

                switch (_state)
                {
                    case LineState.Start when b == (byte)'\r' && !_lineHadByte:
                        // Maybe the blank line of "\r\n\r\n"; decided by the next byte.
                        _lineHadByte = false;
                        _state = LineState.Start;
                        continue;
                    case LineState.Start:
                        _lineHadByte = true;
                        _fieldMatched = 0;
                        _state = LineState.Field;
                        goto case LineState.Field;
                    case LineState.Field:
                        if (b != DataField[_fieldMatched])
                        {
                            _state = LineState.Other;
                            continue;
                        }

                        if (++_fieldMatched == DataField.Length)
                        {
                            if (_dataLines++ > 0)
                            {
                                _json.Feed("\n"u8);
                            }

                            // One optional space after the colon belongs to the field syntax, not the data.
                            if (position < bytes.Length && bytes[position] == (byte)' ')
                            {
                                position++;
                            }

                            _state = LineState.Data;
                        }

                        continue;
                    default:
                        continue;
                }
            }

            return -1;
        }
    }
}

using System.Buffers;
using System.Text.Json;

namespace OpenAiRelay.Metering;

/// <summary>
/// Meters an event stream event by event as it passes. In observe mode every byte is forwarded the moment it
/// arrives. In trim mode (the relay added <c>stream_options.include_usage</c> for a client that did not ask) each
/// complete event is forwarded as soon as its blank line arrives, except the usage-only chunk, and the
/// <c>"usage":null</c> the upstream then adds to every chunk is cut, so the client receives the stream it would have
/// received without the relay. Only an incomplete event is ever held back.
/// </summary>
internal sealed class SseBodyMeter(UsageWalker walker, bool trimInjectedUsage) : IResponseBodyMeter
{
    /// <summary>
    /// The largest incomplete event held back (as <see cref="JsonBodyMeter"/> caps a single token). A Responses stream
    /// event can carry a base64 image of a few MB; an upstream that never ends an event must not grow the relay's
    /// memory without bound. Past this, the event is passed on unmetered and metering resumes after its end.
    /// </summary>
    public const int MaxHeldBytes = 64 * 1024 * 1024;

    // Held for the stream's whole life (1,000 open streams hold 1,000 of each), so each buffer is allocated only when
    // it is needed: _pending when an event is split across writes, _output only in trim mode, _payload only for an
    // event with several data lines (a single data line, what OpenAI sends, is read in place).
    private readonly ArrayBufferWriter<byte> _pending = new();
    private ArrayBufferWriter<byte>? _output;
    private ArrayBufferWriter<byte>? _payload;
    private bool _skippingEvent;

    private ArrayBufferWriter<byte> Output => _output ??= new ArrayBufferWriter<byte>();

    /// <summary>Bytes of an incomplete event held back right now.</summary>
    internal int HeldBytes => _pending.WrittenCount;

    public ReadOnlyMemory<byte> OnWrite(ReadOnlyMemory<byte> chunk)
    {
        _output?.ResetWrittenCount();
        if (_skippingEvent)
        {
            // The rest of an oversized event passes untouched; metering resumes with the next event.
            var end = EventEnd(chunk.Span);
            if (end < 0)
            {
                return chunk;
            }

            _skippingEvent = false;
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
            // Give up on this event: in trim mode release what was held (observe mode already passed it on).
            if (trimInjectedUsage)
            {
                Output.Write(_pending.WrittenSpan);
            }

            _pending.Clear();
            _skippingEvent = true;
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
}

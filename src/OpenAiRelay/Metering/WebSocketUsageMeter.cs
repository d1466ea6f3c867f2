using System.Buffers;
using System.Text.Json;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads the server-to-client half of a relayed WebSocket (Realtime, Responses WebSocket mode) frame by frame as the
/// bytes pass, and adds up the usage of every <c>response.done</c> / <c>response.completed</c> message. Frames are
/// forwarded untouched; only a message that names one of those events is assembled, so audio deltas cost nothing.
/// Compression is not negotiated on metered sockets (the relay drops <c>Sec-WebSocket-Extensions</c>), so payloads
/// are plain text.
/// </summary>
internal sealed class WebSocketUsageMeter(RequestMeter meter)
{
    private const int MaxMessageBytes = 4 * 1024 * 1024;
    private const int PeekBytes = 256;

    private readonly ArrayBufferWriter<byte> _header = new(14);
    private readonly ArrayBufferWriter<byte> _message = new();
    private long _payloadRemaining;
    private bool _inPayload;
    private bool _collecting;
    private bool _messageIsText;
    private bool _finalFrame;
    private bool _decided;
    private bool _controlFrame;
    private bool _lost;
    private bool _stop;

    /// <summary>
    /// Meters <paramref name="bytes"/>; returns -1, or, when a response's usage just used up the key's budget
    /// (<see cref="IRequestBodyFeature.OnSessionResponse"/>), how many of the bytes belong up to the end of the frame
    /// that carried it: the session is to end there.
    /// </summary>
    public int Observe(ReadOnlySpan<byte> bytes)
    {
        var length = bytes.Length;
        while (!bytes.IsEmpty && !_lost)
        {
            if (!_inPayload)
            {
                var needed = HeaderLength();
                var take = Math.Min(needed - _header.WrittenCount, bytes.Length);
                _header.Write(bytes[..take]);
                bytes = bytes[take..];
                if (_header.WrittenCount < HeaderLength())
                {
                    continue;
                }

                StartFrame();
                if (_payloadRemaining < 0)
                {
                    // A 64-bit length with its top bit set is not a WebSocket frame (RFC 6455, 5.2): the byte stream
                    // can no longer be followed, so stop metering (the session is settled from the usage seen so far,
                    // or estimated) rather than fail the tunnel.
                    _lost = true;
                    return -1;
                }

                if (_payloadRemaining == 0)
                {
                    EndFrame();
                    if (_stop)
                    {
                        return length - bytes.Length;
                    }
                }

                continue;
            }

            var chunk = bytes[..(int)Math.Min(_payloadRemaining, bytes.Length)];
            bytes = bytes[chunk.Length..];
            _payloadRemaining -= chunk.Length;
            OnPayload(chunk);
            if (_payloadRemaining == 0)
            {
                EndFrame();
                if (_stop)
                {
                    return length - bytes.Length;
                }
            }
        }

        return -1;
    }

    private int HeaderLength() => WebSocketFrameHeader.Length(_header.WrittenSpan);

    private void StartFrame()
    {
        var header = _header.WrittenSpan;
        var opcode = header[0] & 0x0F;
        _finalFrame = (header[0] & 0x80) != 0;
        _payloadRemaining = WebSocketFrameHeader.PayloadLength(header);
        _header.ResetWrittenCount();
        _inPayload = true;

        if (opcode is 1 or 2)
        {
            // A new data message (text or binary); control frames (8-10) may interleave and are ignored.
            _message.ResetWrittenCount();
            _messageIsText = opcode == 1;
            _collecting = _messageIsText;
            _decided = false;
            _controlFrame = false;
        }
        else
        {
            _controlFrame = opcode >= 8;
        }
    }

    private void OnPayload(ReadOnlySpan<byte> chunk)
    {
        if (_controlFrame || !_collecting)
        {
            return;
        }

        _message.Write(chunk);
        if (!_decided && _message.WrittenCount >= PeekBytes)
        {
            Decide();
        }

        if (_message.WrittenCount > MaxMessageBytes)
        {
            _collecting = false;
        }
    }

    private void EndFrame()
    {
        _inPayload = false;
        if (_controlFrame || !_finalFrame || !_collecting || !_messageIsText)
        {
            return;
        }

        if (!_decided)
        {
            Decide();
        }

        if (_collecting)
        {
            var walker = new UsageWalker();
            walker.BeginEvent();
            var reader = new Utf8JsonReader(_message.WrittenSpan, isFinalBlock: true, state: default);
            if (walker.Walk(ref reader) && walker.Usage is { } usage)
            {
                meter.AddUsage(usage);
                _stop = ((IRequestBodyFeature)meter).OnSessionResponse?.Invoke(usage, meter.Model) == false;
            }
        }

        _collecting = false;
        _message.ResetWrittenCount();
    }

    /// <summary>Keeps assembling only messages whose start names a usage-bearing event.</summary>
    private void Decide()
    {
        _decided = true;
        var head = _message.WrittenSpan[..Math.Min(PeekBytes, _message.WrittenCount)];
        _collecting = head.IndexOf("\"response.done\""u8) >= 0 || head.IndexOf("\"response.completed\""u8) >= 0;
    }
}

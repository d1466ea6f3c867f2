using System.Buffers;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Isolation;

/// <summary>
/// Follows one direction of a relayed WebSocket frame by frame as its bytes pass, and hands each complete text message
/// (unmasked, up to <see cref="MaxMessageBytes"/>) to a check that runs before the bytes that complete it go on: the
/// receiving side cannot act on a message it has not got whole, so the check always comes first. Control frames and
/// binary messages pass unread, and so do Realtime audio appends (recognised by their first bytes). Compression is not negotiated on metered sockets, so payloads are plain text.
/// </summary>
internal sealed class WebSocketTextMessages(Func<ReadOnlyMemory<byte>, bool, ValueTask> onMessage)
{
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>How much of a message is read before deciding whether it is audio, which is not assembled.</summary>
    private const int PeekBytes = 64;

    private readonly ArrayBufferWriter<byte> _header = new(14);
    private readonly ArrayBufferWriter<byte> _message = new();
    private long _remaining;
    private bool _inPayload;
    private bool _final;
    private bool _text;
    private bool _control;
    private bool _truncated;
    private bool _audio;
    private uint _mask;
    private long _maskOffset;

    /// <summary>
    /// Reads <paramref name="bytes"/>; every text message they complete is checked (awaited) before this returns. The
    /// check's second argument is false when the message was longer than <see cref="MaxMessageBytes"/> and only its
    /// start was kept.
    /// </summary>
    public async ValueTask ObserveAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (!_inPayload)
            {
                var take = Math.Min(HeaderLength() - _header.WrittenCount, bytes.Length);
                _header.Write(bytes.Span[..take]);
                bytes = bytes[take..];
                if (_header.WrittenCount < HeaderLength())
                {
                    continue;
                }

                StartFrame();
                if (_remaining == 0)
                {
                    await EndFrameAsync();
                }

                continue;
            }

            var chunk = bytes[..(int)Math.Min(_remaining, bytes.Length)];
            bytes = bytes[chunk.Length..];
            _remaining -= chunk.Length;
            if (_text && !_control)
            {
                Collect(chunk.Span);
            }

            if (_remaining == 0)
            {
                await EndFrameAsync();
            }
        }
    }

    private int HeaderLength() => WebSocketFrameHeader.Length(_header.WrittenSpan);

    private void StartFrame()
    {
        var header = _header.WrittenSpan;
        var opcode = header[0] & 0x0F;
        // A length with its top bit set is no frame: read as the longest, it keeps every later byte unread.
        _remaining = WebSocketFrameHeader.PayloadLength(header) is var length and >= 0 ? length : long.MaxValue;
        _mask = WebSocketFrameHeader.Mask(header);
        _maskOffset = 0;
        _header.ResetWrittenCount();
        _inPayload = true;
        _control = opcode >= 8;
        if (_control)
        {
            return;
        }

        if (opcode != 0)
        {
            // A new data message: text is read, binary (Realtime audio, if any) is not.
            _text = opcode == 1;
            _truncated = false;
            _audio = false;
            _message.ResetWrittenCount();
        }

        _final = (header[0] & 0x80) != 0;
    }

    private void Collect(ReadOnlySpan<byte> chunk)
    {
        if (_audio)
        {
            return;
        }

        var room = MaxMessageBytes - _message.WrittenCount;
        if (room <= 0)
        {
            _truncated = true;
            _maskOffset += chunk.Length;
            return;
        }

        var kept = chunk[..Math.Min(room, chunk.Length)];
        var target = _message.GetSpan(kept.Length)[..kept.Length];
        kept.CopyTo(target);
        if (_mask != 0)
        {
            for (var i = 0; i < target.Length; i++)
            {
                target[i] ^= (byte)(_mask >> (8 * (3 - (int)((_maskOffset + i) & 3))));
            }
        }

        var before = _message.WrittenCount;
        _message.Advance(kept.Length);
        _maskOffset += chunk.Length;
        _truncated |= kept.Length < chunk.Length;
        if (before < PeekBytes && _message.WrittenCount >= PeekBytes)
        {
            // A Realtime audio append (tens of kilobytes, many a second) names no object: not assembled or checked.
            _audio = _message.WrittenSpan[..PeekBytes].IndexOf("\"input_audio_buffer.append\""u8) >= 0;
        }
    }

    private async ValueTask EndFrameAsync()
    {
        _inPayload = false;
        if (_control || !_final || !_text)
        {
            return;
        }

        _text = false;
        if (!_audio)
        {
            await onMessage(_message.WrittenMemory, !_truncated);
        }

        _message.ResetWrittenCount();
    }
}

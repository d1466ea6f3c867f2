using System.Buffers.Binary;

namespace OpenAiRelay.Streams;

/// <summary>The parts of a WebSocket frame header (RFC 6455, 5.2) a reader of relayed frames needs, from its bytes so far.</summary>
internal static class WebSocketFrameHeader
{
    /// <summary>The header's full length, once its first two bytes are known (2 before that): extended length and mask included.</summary>
    public static int Length(ReadOnlySpan<byte> header)
    {
        if (header.Length < 2)
        {
            return 2;
        }

        var length = header[1] & 0x7F;
        var masked = (header[1] & 0x80) != 0 ? 4 : 0;
        return 2 + masked + (length == 126 ? 2 : length == 127 ? 8 : 0);
    }

    /// <summary>The payload length of a complete header; negative for a 64-bit length with its top bit set (not a frame).</summary>
    public static long PayloadLength(ReadOnlySpan<byte> header)
    {
        var length = header[1] & 0x7F;
        return length switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(header[2..4]),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(header[2..10]),
            _ => length,
        };
    }

    /// <summary>The masking key of a complete header of a client frame, or 0 for an unmasked (server) frame.</summary>
    public static uint Mask(ReadOnlySpan<byte> header)
    {
        if ((header[1] & 0x80) == 0)
        {
            return 0;
        }

        var at = Length(header) - 4;
        return BinaryPrimitives.ReadUInt32BigEndian(header[at..(at + 4)]);
    }
}

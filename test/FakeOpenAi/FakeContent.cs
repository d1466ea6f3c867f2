using System.Security.Cryptography;

namespace FakeOpenAi;

/// <summary>
/// The deterministic bytes the fake serves for binary downloads (<c>/v1/files/{id}/content</c>, <c>/v1/audio/speech</c>),
/// so a test can check a 100 MB download without storing it anywhere.
/// </summary>
/// <remarks>
/// Byte at position p: <c>Table[(p ^ (p &gt;&gt; 8) ^ (p &gt;&gt; 16) ^ (p &gt;&gt; 24) ^ (p &gt;&gt; 32)) &amp; 0xFF]</c> with
/// <c>Table[i] = (i * 167 + 13) &amp; 0xFF</c>. The higher-order terms make the pattern differ between every 256-byte
/// block, so a dropped, duplicated or reordered chunk changes the hash. Small enough to re-implement in another
/// language (test/node-sdk does).
/// </remarks>
public static class FakeContent
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>The byte at <paramref name="position"/>.</summary>
    public static byte At(long position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        var p = (ulong)position;
        return Map((byte)(p ^ (p >> 8) ^ (p >> 16) ^ (p >> 24) ^ (p >> 32)));
    }

    /// <summary>Fills <paramref name="destination"/> with the bytes starting at <paramref name="offset"/>.</summary>
    public static void Fill(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var p = (ulong)offset;
        for (var i = 0; i < destination.Length; i++, p++)
        {
            destination[i] = Map((byte)(p ^ (p >> 8) ^ (p >> 16) ^ (p >> 24) ^ (p >> 32)));
        }
    }

    /// <summary>The <paramref name="count"/> bytes starting at <paramref name="offset"/>.</summary>
    public static byte[] Bytes(long offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var bytes = new byte[count];
        Fill(offset, bytes);
        return bytes;
    }

    /// <summary>Lowercase hex SHA-256 of the first <paramref name="length"/> bytes, computed in 64 KiB chunks.</summary>
    public static string Sha256(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[(int)Math.Min(ChunkSize, Math.Max(length, 1))];
        for (long offset = 0; offset < length; offset += buffer.Length)
        {
            var count = (int)Math.Min(buffer.Length, length - offset);
            Fill(offset, buffer.AsSpan(0, count));
            hash.AppendData(buffer, 0, count);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static byte Map(byte value) => unchecked((byte)((value * 167) + 13));
}

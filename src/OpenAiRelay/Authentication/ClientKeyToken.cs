using System.Security.Cryptography;

namespace OpenAiRelay.Authentication;

/// <summary>
/// The client key format <c>rk_live_&lt;keyid&gt;_&lt;secret&gt;</c>: a 10-character public key id and a 40-character
/// secret (about 238 bits), both base62 from <see cref="RandomNumberGenerator"/>. The key id is only a lookup handle;
/// <c>rk_live_&lt;keyid&gt;</c> is the key's label in logs and listings.
/// </summary>
internal static class ClientKeyToken
{
    public const string Prefix = "rk_live_";
    public const int KeyIdLength = 10;
    public const int SecretLength = 40;
    public const int Length = 8 + KeyIdLength + 1 + SecretLength;

    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static (string KeyId, string Token) Generate()
    {
        var keyId = RandomNumberGenerator.GetString(Alphabet, KeyIdLength);
        var secret = RandomNumberGenerator.GetString(Alphabet, SecretLength);
        return (keyId, Prefix + keyId + "_" + secret);
    }

    /// <summary>The stored form: HMAC-SHA256 under the pepper, over the full token (prefix, key id and secret).</summary>
    public static byte[] Hash(byte[] pepper, ReadOnlySpan<char> token)
    {
        Span<byte> ascii = stackalloc byte[Length];
        var length = System.Text.Encoding.ASCII.GetBytes(token[..Math.Min(token.Length, Length)], ascii);
        return HMACSHA256.HashData(pepper, ascii[..length]);
    }

    public static string LabelFor(string keyId) => Prefix + keyId;

    /// <summary>The key id in a label <c>rk_live_&lt;keyid&gt;</c>; any other text (a name, a bare key id) as it is.</summary>
    public static string KeyIdOfLabel(string nameOrLabel)
        => nameOrLabel.StartsWith(Prefix, StringComparison.Ordinal) ? nameOrLabel[Prefix.Length..] : nameOrLabel;

    /// <summary>
    /// True when <paramref name="token"/> has exactly the shape of a client key. Anything else (SQL, NUL, emoji,
    /// 64 KB of text) is rejected here, before the database is asked anything.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> token, out ReadOnlySpan<char> keyId)
    {
        keyId = default;
        if (token.Length != Length || !token.StartsWith(Prefix, StringComparison.Ordinal) || token[Prefix.Length + KeyIdLength] != '_')
        {
            return false;
        }

        var id = token.Slice(Prefix.Length, KeyIdLength);
        if (!IsBase62(id) || !IsBase62(token[(Prefix.Length + KeyIdLength + 1)..]))
        {
            return false;
        }

        keyId = id;
        return true;
    }

    public static bool IsKeyId(ReadOnlySpan<char> value) => value.Length == KeyIdLength && IsBase62(value);

    private static bool IsBase62(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Authentication;

/// <summary>
/// Checks a client's token against <c>RELAY_TOKEN</c> (several, comma-separated, for rotation).
/// Tokens are kept only as HMAC digests under a per-process random key, and every candidate is compared with
/// every configured digest in constant time, so neither the comparison nor the number of tokens leaks through timing.
/// </summary>
internal sealed class StaticTokenAuthenticator
{
    private readonly byte[] _hmacKey = RandomNumberGenerator.GetBytes(32);
    private readonly byte[][] _digests;
    private readonly ClientIdentity[] _identities;

    public StaticTokenAuthenticator(IOptions<RelayOptions> options, IOptions<LimitOptions>? limits = null)
    {
        var policy = ClientIdentity.PolicyOf(Policy.KeyPolicy.Unlimited, limits?.Value.DefaultPolicy ?? Policy.KeyPolicy.Unlimited);
        var tokens = options.Value.Tokens
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        _digests = tokens.Select(t => Digest(t)).ToArray();
        _identities = tokens.Select((_, i) => new ClientIdentity(i == 0 ? "relay-token" : $"relay-token-{i + 1}", Policy: policy)).ToArray();
    }

    /// <summary>No token configured: the relay is open to anyone who can reach it.</summary>
    public bool IsOpen => _digests.Length == 0;

    public int TokenCount => _digests.Length;

    public bool TryAuthenticate(ReadOnlySpan<char> token, out ClientIdentity identity)
    {
        Span<byte> candidate = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Digest(token, candidate);
        var match = -1;
        for (var i = 0; i < _digests.Length; i++)
        {
            // No early exit: every configured token costs the same whether or not an earlier one matched.
            if (CryptographicOperations.FixedTimeEquals(candidate, _digests[i]))
            {
                match = i;
            }
        }

        identity = match >= 0 ? _identities[match] : ClientIdentity.Anonymous;
        return match >= 0;
    }

    private byte[] Digest(string token)
    {
        var digest = new byte[HMACSHA256.HashSizeInBytes];
        Digest(token, digest);
        return digest;
    }

    private void Digest(ReadOnlySpan<char> token, Span<byte> destination)
    {
        Span<byte> utf8 = stackalloc byte[BearerToken.MaxLength * 3];
        var length = Encoding.UTF8.GetBytes(token[..Math.Min(token.Length, BearerToken.MaxLength)], utf8);
        HMACSHA256.HashData(_hmacKey, utf8[..length], destination);
    }
}

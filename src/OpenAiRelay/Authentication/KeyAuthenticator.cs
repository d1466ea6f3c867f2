using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Authentication;

/// <summary>
/// Verifies <c>rk_live_</c> client keys against the database. A token that does not have the exact key shape is
/// rejected before any lookup (LiteLLM CVE-2026-42208). Otherwise the full token is hashed, the row is found by its
/// public key id, and the digests are compared in constant time; an unknown key id costs the same comparison, and
/// unknown id, wrong secret, revoked and expired all give the same answer (null).
/// Verified keys are cached on the FULL digest, never on a prefix or the key id (LiteLLM CVE-2026-35030), for
/// <see cref="KeyOptions.CacheTtl"/>: that bounds how late a revocation made by another instance is seen here.
/// </summary>
internal sealed class KeyAuthenticator
{
    private const int MaxCacheEntries = 10_000;
    private static readonly byte[] s_dummyDigest = RandomNumberGenerator.GetBytes(HMACSHA256.HashSizeInBytes);

    private readonly ClientKeyStore _store;
    private readonly byte[] _pepper;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheTtl;
    private readonly Policy.KeyPolicy _defaultPolicy;
    private readonly ConcurrentDictionary<string, CachedKey> _cache = new(StringComparer.Ordinal);

    public KeyAuthenticator(ClientKeyStore store, KeyPepper pepper, IOptions<KeyOptions> options, TimeProvider time, IOptions<LimitOptions>? limits = null)
    {
        _defaultPolicy = limits?.Value.DefaultPolicy ?? Policy.KeyPolicy.Unlimited;
        _store = store;
        _pepper = pepper.Key;
        _time = time;
        _cacheTtl = options.Value.CacheTtl;
    }

    /// <summary>Database round trips made by <see cref="AuthenticateAsync"/> (tests assert malformed tokens make none).</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    private long _lookups;

    /// <summary>Keys answered from the cache without a database read (the <c>relay.key_cache.lookups</c> hits).</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);

    private long _cacheHits;

    public static bool LooksLikeKey(ReadOnlySpan<char> token) => ClientKeyToken.TryParse(token, out _);

    public ValueTask<ClientIdentity?> AuthenticateAsync(ReadOnlySpan<char> token, CancellationToken cancellationToken)
    {
        if (!ClientKeyToken.TryParse(token, out var keyIdSpan))
        {
            return ValueTask.FromResult<ClientIdentity?>(null);
        }

        var digest = ClientKeyToken.Hash(_pepper, token);
        var cacheKey = Convert.ToHexString(digest);
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(cacheKey, out var cached))
        {
            if (cached.CachedUntil > now && (cached.ExpiresAt is null || cached.ExpiresAt > now))
            {
                Interlocked.Increment(ref _cacheHits);
                return ValueTask.FromResult<ClientIdentity?>(cached.Identity);
            }

            _cache.TryRemove(cacheKey, out _);
        }

        return LookUpAsync(keyIdSpan.ToString(), digest, cacheKey, cancellationToken);
    }

    /// <summary>Drops cached entries of a key revoked through this process; other instances see it within the TTL.</summary>
    public void Invalidate(string keyId)
    {
        foreach (var entry in _cache)
        {
            if (entry.Value.Identity.KeyId == keyId)
            {
                _cache.TryRemove(entry.Key, out _);
            }
        }
    }

    private async ValueTask<ClientIdentity?> LookUpAsync(string keyId, byte[] digest, string cacheKey, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lookups);
        var key = await _store.FindAsync(keyId, cancellationToken);
        // The same constant-time comparison whether or not the key id exists.
        var matches = CryptographicOperations.FixedTimeEquals(digest, key?.SecretHash ?? s_dummyDigest) && key is not null;
        var now = _time.GetUtcNow();
        if (!matches || !key!.IsUsableAt(now))
        {
            return null;
        }

        // The policy is cached with the identity: a change made by `keys set` is seen here within the cache TTL.
        var identity = new ClientIdentity(ClientKeyToken.LabelFor(key.KeyId), key.KeyId, ClientIdentity.PolicyOf(key.Policy, _defaultPolicy));
        if (_cacheTtl > TimeSpan.Zero)
        {
            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }

            _cache[cacheKey] = new CachedKey(identity, key.ExpiresAt, now + _cacheTtl);
        }

        return identity;
    }

    private sealed record CachedKey(ClientIdentity Identity, DateTimeOffset? ExpiresAt, DateTimeOffset CachedUntil);
}

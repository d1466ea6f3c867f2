using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Authentication;

/// <summary>
/// Decides who a client is: a shared <c>RELAY_TOKEN</c> (labels <c>relay-token</c>, <c>relay-token-2</c>...) or a
/// database key (<c>rk_live_...</c>). The relay is open (anonymous) only while no <c>RELAY_TOKEN</c> is set AND no key
/// has ever been created. Open is a latch that only closes: the key table is re-checked at most every cache TTL, so a
/// key created by the CLI or another instance closes the relay within that bound (at once when created through this
/// process's admin API), and revoking every key does not reopen it. A database error here propagates, so the caller
/// fails closed (503) instead of admitting anyone.
/// </summary>
internal sealed class ClientAuthenticator
{
    private readonly StaticTokenAuthenticator _static;
    private readonly KeyAuthenticator _keys;
    private readonly ClientKeyStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _recheck;
    private readonly ClientIdentity _anonymous;
    private volatile bool _keysExist;
    private long _nextCheckTicks;

    public ClientAuthenticator(StaticTokenAuthenticator staticTokens, KeyAuthenticator keys, ClientKeyStore store, IOptions<KeyOptions> options, TimeProvider time, IOptions<LimitOptions>? limits = null)
    {
        _anonymous = ClientIdentity.Anonymous with { Policy = ClientIdentity.PolicyOf(Policy.KeyPolicy.Unlimited, limits?.Value.DefaultPolicy ?? Policy.KeyPolicy.Unlimited) };
        _static = staticTokens;
        _keys = keys;
        _store = store;
        _time = time;
        _recheck = options.Value.CacheTtl;
    }

    /// <summary>Open as of the last check (start-up logging); <see cref="IsOpenAsync"/> is the authoritative answer.</summary>
    public bool WasOpenAtLastCheck => _static.IsOpen && !_keysExist;

    public int StaticTokenCount => _static.TokenCount;

    /// <summary>Returns the client's identity, or null for a token that is missing, malformed, unknown, revoked or expired.</summary>
    /// <param name="token">The bearer token as sent; empty when the request carried none.</param>
    public ValueTask<ClientIdentity?> AuthenticateAsync(ReadOnlySpan<char> token, CancellationToken cancellationToken)
    {
        if (!token.IsEmpty && !_static.IsOpen && _static.TryAuthenticate(token, out var shared))
        {
            return ValueTask.FromResult<ClientIdentity?>(shared);
        }

        if (KeyAuthenticator.LooksLikeKey(token))
        {
            return OrAnonymousAsync(_keys.AuthenticateAsync(token, cancellationToken), cancellationToken);
        }

        return OrAnonymousAsync(ValueTask.FromResult<ClientIdentity?>(null), cancellationToken);
    }

    public async ValueTask<bool> IsOpenAsync(CancellationToken cancellationToken)
    {
        if (!_static.IsOpen || _keysExist)
        {
            return false;
        }

        var now = _time.GetTimestamp();
        var next = Interlocked.Read(ref _nextCheckTicks);
        if (now >= next)
        {
            await RefreshAsync(cancellationToken);
        }

        return !_keysExist;
    }

    /// <summary>Reads the key table now (start-up, and tests).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (await _store.CountAllAsync(cancellationToken) > 0)
        {
            _keysExist = true;
        }

        Interlocked.Exchange(ref _nextCheckTicks, _time.GetTimestamp() + (long)(_recheck.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>A key was created through this process: close at once.</summary>
    public void KeyCreated() => _keysExist = true;

    /// <summary>A key was revoked or its policy changed through this process: forget its cached verifications at once.</summary>
    public void KeyChanged(string keyId) => _keys.Invalidate(keyId);

    private async ValueTask<ClientIdentity?> OrAnonymousAsync(ValueTask<ClientIdentity?> pending, CancellationToken cancellationToken)
    {
        var identity = await pending;
        if (identity is not null)
        {
            return identity;
        }

        return await IsOpenAsync(cancellationToken) ? _anonymous : null;
    }
}

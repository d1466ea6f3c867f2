using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace OpenAiRelay.AdminConsole;

/// <summary>
/// The console's sign-ins, held in this process only: a random 32-byte id in an <c>HttpOnly</c> cookie, never a token
/// or anything derived from the admin token (LiteLLM's session cookie is a JWT holding the caller's real key,
/// litellm#36997). Only the SHA-256 of the id is kept, so a memory dump or a log of this store opens no session.
/// A session ends after <see cref="IdleTimeout"/> without use, after <see cref="Lifetime"/> in any case, on sign-out
/// (removed here, not only forgotten by the browser), or when the process restarts.
/// </summary>
internal sealed class ConsoleSessionStore(TimeProvider time)
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>Sign-ins beyond this evict the oldest: a flood of sign-ins with the right token cannot grow memory.</summary>
    public const int MaxSessions = 1_000;

    private readonly ConcurrentDictionary<string, ConsoleSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>A new session; the returned id goes into the cookie and is not kept.</summary>
    public (string Id, ConsoleSession Session) Create()
    {
        var now = time.GetUtcNow();
        RemoveExpired(now);
        while (_sessions.Count >= MaxSessions && _sessions.MinBy(s => s.Value.CreatedAt) is { Key: { } oldest })
        {
            _sessions.TryRemove(oldest, out _);
        }

        var id = Base64Url(RandomNumberGenerator.GetBytes(32));
        var session = new ConsoleSession(Base64Url(RandomNumberGenerator.GetBytes(32)), now, now + Lifetime) { LastSeen = now };
        _sessions[Hash(id)] = session;
        return (id, session);
    }

    /// <summary>The live session the cookie names, its idle clock restarted; null for an unknown, expired or absent one.</summary>
    public ConsoleSession? Find(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64)
        {
            return null;
        }

        var key = Hash(id);
        if (!_sessions.TryGetValue(key, out var session))
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (now >= session.ExpiresAt || now - session.LastSeen >= IdleTimeout)
        {
            _sessions.TryRemove(key, out _);
            return null;
        }

        session.LastSeen = now;
        return session;
    }

    public void Remove(string? id)
    {
        if (!string.IsNullOrEmpty(id) && id.Length <= 64)
        {
            _sessions.TryRemove(Hash(id), out _);
        }
    }

    private void RemoveExpired(DateTimeOffset now)
    {
        foreach (var (key, session) in _sessions)
        {
            if (now >= session.ExpiresAt || now - session.LastSeen >= IdleTimeout)
            {
                _sessions.TryRemove(key, out _);
            }
        }
    }

    private static string Hash(string id) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>One sign-in: its anti-forgery token (sent by the page as <c>X-Relay-CSRF</c> on every change) and its clock.</summary>
internal sealed record ConsoleSession(string CsrfToken, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt)
{
    /// <summary>Written by whichever request used the session last; a torn read can only shorten an idle timeout by one use.</summary>
    public DateTimeOffset LastSeen { get; set; }
}

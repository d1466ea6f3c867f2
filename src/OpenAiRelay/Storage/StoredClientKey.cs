using OpenAiRelay.Policy;

namespace OpenAiRelay.Storage;

/// <summary>A row of <c>client_keys</c>. <see cref="SecretHash"/> is HMAC-SHA256(pepper, full token); the token itself is never stored.</summary>
internal sealed record StoredClientKey(
    string KeyId,
    string Name,
    byte[] SecretHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt)
{
    /// <summary>The key's own policy; <see cref="KeyPolicy.Unlimited"/> when it sets none (the default policy then applies).</summary>
    public KeyPolicy Policy { get; init; } = KeyPolicy.Unlimited;

    public bool IsUsableAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

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
    public bool IsUsableAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

namespace OpenAiRelay.Storage;

/// <summary>An upstream object and the key that created it through the relay (null: no key owns it).</summary>
internal sealed record OwnedObject(string ObjectId, string Kind, string? OwnerKeyId, string? ParentId, DateTimeOffset CreatedAt);

namespace OpenAiRelay.Storage;

/// <summary>
/// An upstream object and the key that created it through the relay (null: no key owns it), with its JSON as it last
/// passed through the relay when it was seen whole (<see cref="Snapshot"/>), which a key's own lists are served from.
/// </summary>
internal sealed record OwnedObject(string ObjectId, string Kind, string? OwnerKeyId, string? ParentId, DateTimeOffset CreatedAt, string? Snapshot = null);

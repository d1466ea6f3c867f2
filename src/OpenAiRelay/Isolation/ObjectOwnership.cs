using System.Collections.Concurrent;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Isolation;

/// <summary>
/// Who owns which upstream object, read through a per-instance cache of what was recorded or looked up: a request that
/// names an object costs one indexed read the first time, nothing for <see cref="CacheTtl"/> after. Only known owners are cached, never "unknown"
/// (another instance may record the id a moment later); a deleted object leaves the cache here at once, and a stale
/// entry elsewhere is harmless (the upstream answers 404 for it).
/// </summary>
internal sealed class ObjectOwnership(ObjectOwnershipStore store, TimeProvider time)
{
    /// <summary>Entries the cache holds before it starts over: bounded memory, whatever the number of objects.</summary>
    private const int MaxCached = 100_000;

    /// <summary>How long a cached owner is believed: what the operator assigns or releases applies everywhere within it.</summary>
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, (string? Owner, long Until)> _owners = new(StringComparer.Ordinal);

    // Entries added since the cache last started over: ConcurrentDictionary.Count takes every lock, so it is not asked.
    private int _added;

    /// <summary>
    /// True when <paramref name="keyId"/> owns <paramref name="objectId"/>; false when another key owns it, no key does,
    /// or the relay never saw it created (default deny).
    /// </summary>
    public async ValueTask<bool> IsOwnedByAsync(string objectId, string keyId, CancellationToken cancellationToken)
    {
        if (_owners.TryGetValue(objectId, out var cached) && time.GetTimestamp() < cached.Until)
        {
            return cached.Owner == keyId;
        }

        var recorded = await store.GetAsync(objectId, cancellationToken);
        if (recorded is null)
        {
            return false;
        }

        Remember(objectId, recorded.OwnerKeyId);
        return recorded.OwnerKeyId == keyId;
    }

    /// <summary>Records objects a key just created, before the response that names them reaches the client.</summary>
    public async Task RecordAsync(IReadOnlyList<OwnedObject> objects, CancellationToken cancellationToken)
    {
        await store.RecordAsync(objects, cancellationToken);
        foreach (var owned in objects)
        {
            // Not cached: an id recorded before keeps its first owner, which the next lookup reads.
            _owners.TryRemove(owned.ObjectId, out _);
        }
    }

    /// <summary>Keeps what its owner just saw of an object as the JSON its lists show.</summary>
    public Task RefreshAsync(string objectId, string snapshot, CancellationToken cancellationToken) =>
        store.UpdateSnapshotAsync(objectId, snapshot, cancellationToken);

    /// <summary>Forgets an object its owner deleted upstream.</summary>
    public async Task ForgetAsync(string objectId, CancellationToken cancellationToken)
    {
        _owners.TryRemove(objectId, out _);
        await store.DeleteAsync(objectId, cancellationToken);
    }

    /// <summary>Drops what this instance cached of an object whose owner the operator changed.</summary>
    public void Invalidate(string objectId) => _owners.TryRemove(objectId, out _);

    private void Remember(string objectId, string? owner)
    {
        if (Interlocked.Increment(ref _added) > MaxCached)
        {
            _owners.Clear();
            Interlocked.Exchange(ref _added, 0);
        }

        _owners[objectId] = (owner, time.GetTimestamp() + (long)(CacheTtl.TotalSeconds * time.TimestampFrequency));
    }
}

using OpenAiRelay.Authentication;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// Lists who owns which upstream object, and lets the operator give an object to a key or take it back (objects made
/// before isolation, or outside the relay, belong to no key until assigned). Every change is an audit entry.
/// </summary>
internal sealed class ObjectAdministration(ObjectOwnershipStore store, ClientKeyStore keys, AdminAuditStore audit, TimeProvider time)
{
    public Task<IReadOnlyList<OwnedObject>> ListAsync(string? ownerKeyId, bool unowned, string? kind, int limit, CancellationToken cancellationToken) =>
        store.ListAsync(ownerKeyId, unowned, kind, limit, cancellationToken);

    public Task<OwnedObject?> GetAsync(string objectId, CancellationToken cancellationToken) => store.GetAsync(objectId, cancellationToken);

    /// <summary>The active key named <paramref name="nameOrKeyId"/> (its name, or its key id), or null.</summary>
    public async Task<StoredClientKey?> FindKeyAsync(string nameOrKeyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return (await keys.ListAsync(cancellationToken)).FirstOrDefault(k => k.RevokedAt is null && (k.Name == nameOrKeyId || k.KeyId == nameOrKeyId) && k.IsUsableAt(now));
    }

    /// <summary>Gives <paramref name="objectId"/> to <paramref name="key"/>; false when the relay never saw it and no kind was given.</summary>
    public async Task<bool> AssignAsync(string objectId, StoredClientKey key, string? kind, AdminActor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!await store.AssignAsync(objectId, key.KeyId, kind, now, cancellationToken))
        {
            return false;
        }

        await audit.AppendAsync(new AdminAuditEntry(now, actor.Label, actor.Address, "object.assigned", $"{objectId} to {key.Name} ({ClientKeyToken.LabelFor(key.KeyId)})"), cancellationToken);
        return true;
    }

    /// <summary>Takes <paramref name="objectId"/> from its key: only a shared <c>RELAY_TOKEN</c> reaches it then.</summary>
    public async Task<bool> ReleaseAsync(string objectId, AdminActor actor, CancellationToken cancellationToken)
    {
        if (!await store.ReleaseAsync(objectId, cancellationToken))
        {
            return false;
        }

        await audit.AppendAsync(new AdminAuditEntry(time.GetUtcNow(), actor.Label, actor.Address, "object.released", objectId), cancellationToken);
        return true;
    }
}

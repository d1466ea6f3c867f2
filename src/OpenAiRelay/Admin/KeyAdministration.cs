using OpenAiRelay.Authentication;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>Creates, lists, limits and revokes client keys; shared by the CLI verbs and the admin HTTP API.</summary>
/// <remarks>Every change is appended to the admin audit log (<see cref="AdminAuditStore"/>) once it has happened.</remarks>
internal sealed class KeyAdministration(ClientKeyStore store, KeyPepper pepper, AdminAuditStore audit, TimeProvider time)
{
    /// <exception cref="ArgumentException">The name is not valid.</exception>
    /// <exception cref="DuplicateKeyNameException">A live key already has the name.</exception>
    public async Task<CreatedKey> CreateAsync(string name, TimeSpan? expiresIn, KeyPolicy policy, AdminActor actor, CancellationToken cancellationToken)
    {
        if (!KeyNames.IsValid(name))
        {
            throw new ArgumentException(KeyNames.Rule, nameof(name));
        }

        var now = time.GetUtcNow();
        var (keyId, token) = ClientKeyToken.Generate();
        var key = new StoredClientKey(keyId, name, ClientKeyToken.Hash(pepper.Key, token), now, now + expiresIn, null) { Policy = policy };
        await store.CreateAsync(key, cancellationToken);
        await audit.AppendAsync(new AdminAuditEntry(now, actor.Label, actor.Address, "key.created", key.Policy.IsUnlimited ? Describe(key) : DescribeWithPolicy(key)), cancellationToken);
        return new CreatedKey(key, token);
    }

    public Task<IReadOnlyList<StoredClientKey>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <param name="nameOrKeyId">A key's name, its key id, or its label <c>rk_live_&lt;keyid&gt;</c> (what logs and listings show).</param>
    public async Task<IReadOnlyList<StoredClientKey>> RevokeAsync(string nameOrKeyId, AdminActor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var revoked = await store.RevokeAsync(ClientKeyToken.KeyIdOfLabel(nameOrKeyId), now, cancellationToken);
        foreach (var key in revoked)
        {
            await audit.AppendAsync(new AdminAuditEntry(now, actor.Label, actor.Address, "key.revoked", Describe(key)), cancellationToken);
        }

        return revoked;
    }

    /// <summary>
    /// Changes the policy of a live key: <paramref name="change"/> maps its current policy to the new one inside the
    /// store's write transaction. Running relays apply it within <c>Relay:Keys:CacheTtl</c>. Null when no live key matched.
    /// </summary>
    /// <exception cref="FormatException">From <paramref name="change"/>: a value the policy rules refuse.</exception>
    public async Task<StoredClientKey?> SetPolicyAsync(string nameOrKeyId, Func<KeyPolicy, KeyPolicy> change, AdminActor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var changed = await store.UpdatePolicyAsync(ClientKeyToken.KeyIdOfLabel(nameOrKeyId), change, now, cancellationToken);
        if (changed is not null)
        {
            await audit.AppendAsync(new AdminAuditEntry(now, actor.Label, actor.Address, "key.policy_changed", DescribeWithPolicy(changed)), cancellationToken);
        }

        return changed;
    }

    public Task<IReadOnlyList<AdminAuditEntry>> AuditAsync(DateTimeOffset? since, CancellationToken cancellationToken) => audit.ListAsync(since, cancellationToken);

    private static string Describe(StoredClientKey key) => $"{key.Name} ({ClientKeyToken.LabelFor(key.KeyId)})";

    /// <summary>The audit target of a create or a policy change: which key, and the policy it has from then on.</summary>
    private static string DescribeWithPolicy(StoredClientKey key) =>
        Describe(key) + " policy " + (KeyPolicyJson.Serialize(key.Policy) ?? "{}");
}

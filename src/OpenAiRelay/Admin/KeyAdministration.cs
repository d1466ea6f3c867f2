using OpenAiRelay.Authentication;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>Creates, lists and revokes client keys; shared by the CLI verbs and the admin HTTP API.</summary>
internal sealed class KeyAdministration(ClientKeyStore store, KeyPepper pepper, TimeProvider time)
{
    /// <exception cref="ArgumentException">The name is not valid.</exception>
    /// <exception cref="DuplicateKeyNameException">A live key already has the name.</exception>
    public async Task<CreatedKey> CreateAsync(string name, TimeSpan? expiresIn, CancellationToken cancellationToken)
    {
        if (!KeyNames.IsValid(name))
        {
            throw new ArgumentException(KeyNames.Rule, nameof(name));
        }

        var now = time.GetUtcNow();
        var (keyId, token) = ClientKeyToken.Generate();
        var key = new StoredClientKey(keyId, name, ClientKeyToken.Hash(pepper.Key, token), now, now + expiresIn, null);
        await store.CreateAsync(key, cancellationToken);
        return new CreatedKey(key, token);
    }

    public Task<IReadOnlyList<StoredClientKey>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <param name="nameOrKeyId">A key's name, its key id, or its label <c>rk_live_&lt;keyid&gt;</c> (what logs and listings show).</param>
    public Task<IReadOnlyList<StoredClientKey>> RevokeAsync(string nameOrKeyId, CancellationToken cancellationToken)
        => store.RevokeAsync(ClientKeyToken.KeyIdOfLabel(nameOrKeyId), time.GetUtcNow(), cancellationToken);
}

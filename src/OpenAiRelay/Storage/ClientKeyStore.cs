using System.Data.Common;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Storage;

/// <summary>Reads and writes <c>client_keys</c>. Lookups are by the public key id only; secrets are compared by the caller.</summary>
internal sealed class ClientKeyStore(RelayDatabase database)
{
    private const string Columns = "key_id, name, secret_hash, created_at, expires_at, revoked_at, policy";

    public async Task CreateAsync(StoredClientKey key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        using var command = database.Command(connection, "INSERT INTO client_keys (" + Columns + ") VALUES (@key_id, @name, @secret_hash, @created_at, @expires_at, @revoked_at, @policy);", transaction)
            .With("@key_id", key.KeyId)
            .With("@name", key.Name)
            .With("@secret_hash", key.SecretHash)
            .With("@created_at", database.ToDbTimestamp(key.CreatedAt))
            .With("@expires_at", key.ExpiresAt is { } expires ? database.ToDbTimestamp(expires) : null)
            .With("@revoked_at", null)
            .With("@policy", KeyPolicyJson.Serialize(key.Policy));
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            // The partial unique index on live names; a key id collision (62^10) is not a practical case.
            throw new DuplicateKeyNameException(key.Name);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<StoredClientKey?> FindAsync(string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "SELECT " + Columns + " FROM client_keys WHERE key_id = @key_id;").With("@key_id", keyId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<StoredClientKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "SELECT " + Columns + " FROM client_keys ORDER BY created_at, key_id;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<StoredClientKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    /// <summary>Revokes the live key with this name or key id. Returns the revoked keys (none when nothing matched).</summary>
    private async Task<List<StoredClientKey>> SelectLiveAsync(
        System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string column, string value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var keys = new List<StoredClientKey>();
        using var select = database.Command(connection, "SELECT " + Columns + " FROM client_keys WHERE revoked_at IS NULL AND " + column + " = @value" + database.LockRowsForUpdate + ";", transaction)
            .With("@value", value);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader) with { RevokedAt = now });
        }

        return keys;
    }

    public async Task<IReadOnlyList<StoredClientKey>> RevokeAsync(string nameOrKeyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // A key id names exactly one key; only when no live key has it is the value a name. Matching both at once
        // revoked two keys when one key's name was another's id (a name anyone creating a key can choose).
        var revoked = await SelectLiveAsync(connection, transaction, "key_id", nameOrKeyId, now, cancellationToken);
        if (revoked.Count == 0)
        {
            revoked = await SelectLiveAsync(connection, transaction, "name", nameOrKeyId, now, cancellationToken);
        }

        using var update = database.Command(connection, "UPDATE client_keys SET revoked_at = @now WHERE revoked_at IS NULL AND key_id = @key_id;", transaction)
            .With("@now", database.ToDbTimestamp(now))
            .With("@key_id", null);
        foreach (var key in revoked)
        {
            update.Set("@key_id", key.KeyId);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    /// <summary>
    /// Changes the policy of the live key with this key id, or else with this name: <paramref name="change"/> gets the
    /// current policy and returns the new one, inside the write transaction, so two admins changing different fields
    /// at once both take effect. Returns the key as it now is, or null when no live key matched.
    /// </summary>
    public async Task<StoredClientKey?> UpdatePolicyAsync(string nameOrKeyId, Func<KeyPolicy, KeyPolicy> change, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var keys = await SelectLiveAsync(connection, transaction, "key_id", nameOrKeyId, now, cancellationToken);
        if (keys.Count == 0)
        {
            keys = await SelectLiveAsync(connection, transaction, "name", nameOrKeyId, now, cancellationToken);
        }

        if (keys.Count != 1)
        {
            return null;
        }

        var key = keys[0] with { Policy = change(keys[0].Policy) };
        using var update = database.Command(connection, "UPDATE client_keys SET policy = @policy WHERE key_id = @key_id AND revoked_at IS NULL;", transaction)
            .With("@policy", KeyPolicyJson.Serialize(key.Policy))
            .With("@key_id", key.KeyId);
        await update.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return key;
    }

    /// <summary>Keys ever created, revoked ones included: once a key has existed, the relay never falls back to open.</summary>
    public async Task<long> CountAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "SELECT COUNT(*) FROM client_keys;");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private StoredClientKey Read(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        (byte[])reader.GetValue(2),
        database.ReadTimestamp(reader, 3),
        reader.IsDBNull(4) ? null : database.ReadTimestamp(reader, 4),
        reader.IsDBNull(5) ? null : database.ReadTimestamp(reader, 5))
    {
        Policy = reader.IsDBNull(6) ? KeyPolicy.Unlimited : KeyPolicyJson.Parse(reader.GetString(6)),
    };
}

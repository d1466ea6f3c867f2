namespace OpenAiRelay.Storage;

/// <summary>
/// Reads and writes <c>upstream_objects</c>: which key created each upstream object through the relay. The first
/// owner recorded for an id stays its owner (a repeated sighting, or another key's, never moves it); only the
/// operator's <see cref="AssignAsync"/> and <see cref="ReleaseAsync"/> change it.
/// </summary>
internal sealed class ObjectOwnershipStore(RelayDatabase database)
{
    private const string Columns = "object_id, kind, owner_key_id, parent_id, created_at, snapshot";

    // A second sighting of an id keeps its owner and its place in the lists; it only fills a snapshot still missing.
    private const string InsertSql =
        "INSERT INTO upstream_objects (" + Columns + ") VALUES (@object_id, @kind, @owner_key_id, @parent_id, @created_at, @snapshot) " +
        "ON CONFLICT (object_id) DO UPDATE SET snapshot = COALESCE(upstream_objects.snapshot, excluded.snapshot);";

    /// <summary>Records the objects in one transaction; ids already recorded keep their owner.</summary>
    public async Task RecordAsync(IReadOnlyList<OwnedObject> objects, CancellationToken cancellationToken)
    {
        if (objects.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        using var insert = database.Command(connection, InsertSql, transaction)
            .With("@object_id", null).With("@kind", null).With("@owner_key_id", null).With("@parent_id", null).With("@created_at", null).With("@snapshot", null);
        foreach (var owned in objects)
        {
            insert.Set("@object_id", owned.ObjectId);
            insert.Set("@kind", owned.Kind);
            insert.Set("@owner_key_id", owned.OwnerKeyId);
            insert.Set("@parent_id", owned.ParentId);
            insert.Set("@created_at", database.ToDbTimestamp(owned.CreatedAt));
            insert.Set("@snapshot", owned.Snapshot);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The recorded object with this id, or null when the relay never saw it created.</summary>
    public async Task<OwnedObject?> GetAsync(string objectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = database.Command(connection, "SELECT " + Columns + " FROM upstream_objects WHERE object_id = @object_id;")
            .With("@object_id", objectId);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>
    /// Objects, newest first: of <paramref name="ownerKeyId"/>, or with <paramref name="unowned"/> those no key owns,
    /// or all; of one <paramref name="kind"/> when given.
    /// </summary>
    public async Task<IReadOnlyList<OwnedObject>> ListAsync(string? ownerKeyId, bool unowned, string? kind, int limit, CancellationToken cancellationToken)
    {
        var where = ownerKeyId is not null ? "owner_key_id = @owner" : unowned ? "owner_key_id IS NULL" : "1 = 1";
        if (kind is not null)
        {
            where += " AND kind = @kind";
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = database.Command(connection, $"SELECT {Columns} FROM upstream_objects WHERE {where} ORDER BY created_at DESC, object_id DESC LIMIT @limit;")
            .With("@limit", limit);
        if (ownerKeyId is not null)
        {
            select.With("@owner", ownerKeyId);
        }

        if (kind is not null)
        {
            select.With("@kind", kind);
        }

        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var objects = new List<OwnedObject>();
        while (await reader.ReadAsync(cancellationToken))
        {
            objects.Add(Read(reader));
        }

        return objects;
    }

    /// <summary>
    /// One page of <paramref name="ownerKeyId"/>'s objects of <paramref name="kind"/> that have a snapshot, in list order
    /// (newest first, or oldest with <paramref name="ascending"/>), strictly after the object <paramref name="after"/>
    /// names in that order (keyset: its time, then its id), at most <paramref name="limit"/>.
    /// </summary>
    public async Task<IReadOnlyList<OwnedObject>> PageAsync(string ownerKeyId, string kind, OwnedObject? after, bool ascending, int limit, CancellationToken cancellationToken)
    {
        var direction = ascending ? "ASC" : "DESC";
        var cursor = after is null ? string.Empty : ascending
            ? " AND (created_at > @at OR (created_at = @at AND object_id > @id))"
            : " AND (created_at < @at OR (created_at = @at AND object_id < @id))";
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = database.Command(
                connection,
                $"SELECT {Columns} FROM upstream_objects WHERE owner_key_id = @owner AND kind = @kind AND snapshot IS NOT NULL{cursor} " +
                $"ORDER BY created_at {direction}, object_id {direction} LIMIT @limit;")
            .With("@owner", ownerKeyId).With("@kind", kind).With("@limit", limit);
        if (after is not null)
        {
            select.With("@at", database.ToDbTimestamp(after.CreatedAt)).With("@id", after.ObjectId);
        }

        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var page = new List<OwnedObject>();
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(Read(reader));
        }

        return page;
    }

    /// <summary>Replaces an object's snapshot with the JSON its owner just saw of it.</summary>
    public async Task UpdateSnapshotAsync(string objectId, string snapshot, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var update = database.Command(connection, "UPDATE upstream_objects SET snapshot = @snapshot WHERE object_id = @object_id;")
            .With("@snapshot", snapshot).With("@object_id", objectId);
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Gives an object to a key (recording it when the relay never saw it, as <paramref name="kind"/>); false when unknown and no kind was given.</summary>
    public async Task<bool> AssignAsync(string objectId, string ownerKeyId, string? kind, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var update = database.Command(connection, "UPDATE upstream_objects SET owner_key_id = @owner WHERE object_id = @object_id;")
            .With("@owner", ownerKeyId).With("@object_id", objectId);
        if (await update.ExecuteNonQueryAsync(cancellationToken) > 0)
        {
            return true;
        }

        if (kind is null)
        {
            return false;
        }

        await RecordAsync([new OwnedObject(objectId, kind, ownerKeyId, null, now)], cancellationToken);
        return true;
    }

    /// <summary>Takes an object from its key: only a shared <c>RELAY_TOKEN</c> reaches it then. False when unknown.</summary>
    public async Task<bool> ReleaseAsync(string objectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var update = database.Command(connection, "UPDATE upstream_objects SET owner_key_id = NULL WHERE object_id = @object_id;").With("@object_id", objectId);
        return await update.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>Forgets an object deleted upstream.</summary>
    public async Task DeleteAsync(string objectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var delete = database.Command(connection, "DELETE FROM upstream_objects WHERE object_id = @object_id;").With("@object_id", objectId);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    private OwnedObject Read(System.Data.Common.DbDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.ReadNullableString(2), reader.ReadNullableString(3), database.ReadTimestamp(reader, 4), reader.ReadNullableString(5));
}

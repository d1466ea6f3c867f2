using System.Data.Common;

namespace OpenAiRelay.Storage;

/// <summary>Appends to and reads <c>admin_audit</c>. Entries are never changed or deleted by the relay.</summary>
internal sealed class AdminAuditStore(RelayDatabase database)
{
    /// <summary>The most entries one read returns (newest last).</summary>
    public const int MaxEntries = 10_000;

    public async Task AppendAsync(AdminAuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "INSERT INTO admin_audit (at, actor, address, action, target) VALUES (@at, @actor, @address, @action, @target);")
            .With("@at", database.ToDbTimestamp(entry.At))
            .With("@actor", entry.Actor)
            .With("@address", entry.Address)
            .With("@action", entry.Action)
            .With("@target", entry.Target);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Entries at or after <paramref name="since"/>, oldest first: the last <see cref="MaxEntries"/> of them.</summary>
    public async Task<IReadOnlyList<AdminAuditEntry>> ListAsync(DateTimeOffset? since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(
                connection,
                "SELECT at, actor, address, action, target FROM (SELECT id, at, actor, address, action, target FROM admin_audit WHERE at >= @since ORDER BY id DESC LIMIT @limit) newest ORDER BY id;")
            .With("@since", database.ToDbTimestamp(since ?? DateTimeOffset.UnixEpoch))
            .With("@limit", MaxEntries);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<AdminAuditEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AdminAuditEntry(
                database.ReadTimestamp(reader, 0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        return entries;
    }
}

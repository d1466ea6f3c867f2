using System.Reflection;
using System.Text.RegularExpressions;

namespace OpenAiRelay.Storage;

/// <summary>
/// Applies the numbered scripts <c>Migrations/NNN_name.{engine}.sql</c> (embedded) that <c>schema_migrations</c> does
/// not list yet, each in the same transaction as its bookkeeping row, so a failed migration leaves nothing half-done.
/// Running it again is a no-op.
/// </summary>
internal static partial class SchemaMigrator
{
    private const string ResourcePrefix = "OpenAiRelay.Storage.Migrations.";

    public static IReadOnlyList<(int Version, string Name, string Sql)> Scripts(string engine)
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ScriptName().Match(resource);
            if (!match.Success || match.Groups["engine"].Value != engine)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((int.Parse(match.Groups["version"].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups["name"].Value, reader.ReadToEnd()));
        }

        return scripts.OrderBy(s => s.Item1).ToList();
    }

    /// <summary>Returns the versions it applied (empty when the schema was current).</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(RelayDatabase database, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        if (database.MigrationLockSql is { } lockSql)
        {
            using var lockCommand = database.Command(connection, lockSql, transaction);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        using (var create = database.Command(connection, database.MigrationsTableSql, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var applied = new HashSet<int>();
        using (var select = database.Command(connection, "SELECT version FROM schema_migrations;", transaction))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        var newlyApplied = new List<int>();
        foreach (var (version, name, sql) in Scripts(database.Engine))
        {
            if (applied.Contains(version))
            {
                continue;
            }

            using (var script = database.Command(connection, sql, transaction))
            {
                await script.ExecuteNonQueryAsync(cancellationToken);
            }

            using var record = database.Command(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @applied_at);", transaction)
                .With("@version", version)
                .With("@name", name)
                .With("@applied_at", database.ToDbTimestamp(time.GetUtcNow()));
            await record.ExecuteNonQueryAsync(cancellationToken);
            newlyApplied.Add(version);
        }

        await transaction.CommitAsync(cancellationToken);
        return newlyApplied;
    }

    [GeneratedRegex(@"^OpenAiRelay\.Storage\.Migrations\.(?<version>\d{3})_(?<name>[a-z0-9_]+)\.(?<engine>sqlite|postgres)\.sql$")]
    private static partial Regex ScriptName();
}

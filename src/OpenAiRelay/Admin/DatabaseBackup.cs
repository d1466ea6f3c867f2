using Microsoft.Data.Sqlite;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// <c>openai-relay db backup FILE</c>: a consistent copy of the SQLite database through SQLite's online backup API,
/// safe while the relay writes (the copy is one point in time, WAL included). The copy holds key hashes and the whole
/// ledger, so it is created readable by its owner only. PostgreSQL has its own tool for this, pg_dump.
/// </summary>
internal static class DatabaseBackup
{
    public static async Task<string> WriteAsync(RelayDatabase database, string file, bool force, CancellationToken cancellationToken)
    {
        if (database is not SqliteRelayDatabase sqlite)
        {
            throw new AdminUsageException(
                "the relay's database is PostgreSQL: back it up with pg_dump, e.g. pg_dump --format=custom --file=relay.dump \"$DATABASE_URL\" " +
                "(restore: pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" relay.dump)");
        }

        var path = Path.GetFullPath(file);
        if (path == sqlite.Path)
        {
            throw new AdminUsageException("the backup file is the database itself");
        }

        if (File.Exists(path) && !force)
        {
            throw new AdminUsageException($"{path} exists; pass --force to replace it");
        }

        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            throw new AdminUsageException($"{directory} does not exist");
        }

        // Written beside the target and moved over it at the end: a failed backup never leaves half a file under the name.
        var partial = path + ".partial";
        File.Delete(partial);
        await using (File.Create(partial))
        {
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        try
        {
            await using (var source = (SqliteConnection)await database.OpenAsync(cancellationToken))
            await using (var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = partial, Pooling = false }.ToString()))
            {
                await target.OpenAsync(cancellationToken);
                source.BackupDatabase(target);
                // One self-contained file: the copy keeps no -wal beside it.
                using var checkpoint = target.CreateCommand();
                checkpoint.CommandText = "PRAGMA journal_mode = DELETE;";
                await checkpoint.ExecuteNonQueryAsync(cancellationToken);
            }

            File.Move(partial, path, overwrite: true);
            return path;
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }
}

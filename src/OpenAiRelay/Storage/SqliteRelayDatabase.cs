using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace OpenAiRelay.Storage;

/// <summary>
/// The default store: one file, <c>relay.db</c>, in WAL mode. <c>synchronous=FULL</c> is a per-connection setting
/// (a pooled connection keeps what it was given, a new one starts at the default), so it is set on every open,
/// together with a short <c>busy_timeout</c>: a locked database must fail a request in seconds, not after 30 s.
/// </summary>
internal sealed class SqliteRelayDatabase : RelayDatabase
{
    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private readonly string _connectionString;
    private readonly string _pragmas;

    public SqliteRelayDatabase(string path, TimeSpan busyTimeout)
        : base(busyTimeout)
    {
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy database itself until the command timeout: keep both short.
            DefaultTimeout = CommandTimeoutSeconds,
        }.ToString();
        _pragmas = string.Create(CultureInfo.InvariantCulture, $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={(int)busyTimeout.TotalMilliseconds}; PRAGMA foreign_keys=ON;");
    }

    public string Path { get; }

    public override string Engine => "sqlite";

    public override string Description => "SQLite " + Path;

    public override string MigrationsTableSql =>
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);";

    // BEGIN IMMEDIATE already serialises writers.
    public override string? MigrationLockSql => null;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            using var command = Command(connection, _pragmas);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        // deferred: false makes Microsoft.Data.Sqlite issue BEGIN IMMEDIATE: the write lock is taken up front, so a
        // read-then-write never fails half-way with SQLITE_BUSY when another writer got there first.
        => Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override object ToDbTimestamp(DateTimeOffset value) => value.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal)
        => DateTimeOffset.ParseExact(reader.GetString(ordinal), TimestampFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public override string DayOf(string column) => $"substr({column}, 1, 10)";

    public override string HourOf(string column) => $"substr({column}, 1, 13)";

    public override bool IsUniqueViolation(DbException exception)
        => exception is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            OwnerOnly.Directory(directory);
        }

        await using (var connection = await OpenAsync(cancellationToken))
        {
            await CheckWritableAsync(connection, cancellationToken);
        }

        // The file and its WAL and shared-memory companions exist now (SQLite made them with the umask).
        OwnerOnly.Files(Path, Path + "-wal", Path + "-shm");
    }

    private async Task CheckWritableAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // journal_mode=WAL is stored in the file; setting it also proves the file is a database.
        using (var wal = Command(connection, "PRAGMA journal_mode=WAL;"))
        {
            var mode = (string?)await wal.ExecuteScalarAsync(cancellationToken);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"SQLite refused WAL mode (got '{mode}')");
            }
        }

        // A real write, so a read-only file or a full disk fails here rather than on the first request.
        using var probe = Command(connection, "PRAGMA user_version = 1;");
        await probe.ExecuteNonQueryAsync(cancellationToken);
    }
}

using System.Data.Common;
using Npgsql;

namespace OpenAiRelay.Storage;

/// <summary>PostgreSQL, for several relay instances sharing one ledger and one key table.</summary>
internal sealed class PostgresRelayDatabase : RelayDatabase, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresRelayDatabase(string connectionString, TimeSpan commandTimeout)
        : base(commandTimeout)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = CommandTimeoutSeconds };
        if (!connectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
        {
            builder.Timeout = 5;
        }

        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Engine => "postgres";

    public override string Description { get; }

    public override string MigrationsTableSql =>
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);";

    // Instances starting together must not both apply migration 001: a transaction-scoped advisory lock serialises them.
    public override string? MigrationLockSql => "SELECT pg_advisory_xact_lock(7143290417);";

    public override string LockRowsForUpdate => " FOR UPDATE";

    public override string ClockSql => "now()";

    public override string ClockPlusLeaseSql => "now() + @lease_ms * interval '1 millisecond'";

    public override string LockKeySql => "SELECT pg_advisory_xact_lock(714329, hashtext(@key_id));";

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
        => await _dataSource.OpenConnectionAsync(cancellationToken);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        => await connection.BeginTransactionAsync(cancellationToken);

    public override object ToDbTimestamp(DateTimeOffset value) => value.UtcDateTime;

    public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal)
        => new(DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(ordinal), DateTimeKind.Utc));

    public override string DayOf(string column) => $"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

    public override string HourOf(string column) => $"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')";

    public override bool IsUniqueViolation(DbException exception)
        => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

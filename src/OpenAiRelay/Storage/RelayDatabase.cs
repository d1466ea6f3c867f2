using System.Data.Common;

namespace OpenAiRelay.Storage;

/// <summary>
/// One database (SQLite or PostgreSQL) with the relay's schema. The stores share their SQL; this type holds the few
/// places where the engines differ: opening a connection, timestamps, the day of a timestamp and migration locking.
/// </summary>
internal abstract class RelayDatabase(TimeSpan commandTimeout)
{
    /// <summary>Every statement's bound, in whole seconds (ADO.NET's unit): short, so the request path never hangs on the database.</summary>
    protected int CommandTimeoutSeconds { get; } = Math.Max(1, (int)Math.Ceiling(commandTimeout.TotalSeconds));

    /// <summary><c>sqlite</c> or <c>postgres</c>: picks the migration scripts.</summary>
    public abstract string Engine { get; }

    /// <summary>Where the database is, safe to print (never a password).</summary>
    public abstract string Description { get; }

    /// <summary>Opens a connection with the relay's per-connection settings already applied.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a transaction that takes the write lock at once (SQLite <c>BEGIN IMMEDIATE</c>), for read-then-write.</summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    public abstract object ToDbTimestamp(DateTimeOffset value);

    public abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    /// <summary>An SQL expression giving the UTC calendar day (<c>yyyy-MM-dd</c>) of a timestamp column.</summary>
    public abstract string DayOf(string column);

    /// <summary>An SQL expression giving the UTC hour (<c>yyyy-MM-ddTHH</c>) of a timestamp column.</summary>
    public abstract string HourOf(string column);

    /// <summary>DDL creating <c>schema_migrations</c> if absent.</summary>
    public abstract string MigrationsTableSql { get; }

    /// <summary>Serialises concurrent migrators (several instances starting at once), inside the migration transaction.</summary>
    public abstract string? MigrationLockSql { get; }

    /// <summary>
    /// Appended to a SELECT inside a write transaction that reads rows it is about to change: PostgreSQL's
    /// <c>FOR UPDATE</c>, so two instances changing one key serialise instead of losing an update. SQLite's write
    /// transactions already hold the database's one write lock.
    /// </summary>
    public virtual string LockRowsForUpdate => string.Empty;

    /// <summary>
    /// The store's own clock in SQL, for leases several instances compare: PostgreSQL's <c>now()</c>; SQLite (one
    /// host) takes it from the <c>@now</c> parameter.
    /// </summary>
    public virtual string ClockSql => "@now";

    /// <summary><see cref="ClockSql"/> plus the <c>@lease_ms</c> parameter's milliseconds; SQLite takes <c>@expires</c>.</summary>
    public virtual string ClockPlusLeaseSql => "@expires";

    /// <summary>
    /// Serialises the write transactions of one key across instances (PostgreSQL: a transaction-scoped advisory lock
    /// on <c>@key_id</c>); null where a write transaction already holds the database's one write lock (SQLite).
    /// </summary>
    public virtual string? LockKeySql => null;

    public abstract bool IsUniqueViolation(DbException exception);

    /// <summary>One-time checks and settings at start-up (SQLite: WAL mode, writable file).</summary>
    public virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public DbCommand Command(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        // NOTE: sql is always a constant of this assembly; values only ever travel as parameters.
#pragma warning disable CA2100 // Review SQL queries for security vulnerabilities: see the note above.
        command.CommandText = sql;
#pragma warning restore CA2100
        command.Transaction = transaction;
        command.CommandTimeout = CommandTimeoutSeconds;
        return command;
    }
}

namespace OpenAiRelay.Configuration;

/// <summary>
/// Where keys and the usage ledger live (<c>Relay:Storage</c>). SQLite under <see cref="DataDirectory"/> unless
/// PostgreSQL is chosen by <c>DATABASE_URL</c> or by <see cref="Provider"/> = <c>postgres</c> with a connection string.
/// </summary>
internal sealed class StorageOptions
{
    public const string Section = "Relay:Storage";

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary><c>sqlite</c> (default) or <c>postgres</c>. <c>DATABASE_URL</c> implies <c>postgres</c>.</summary>
    public string? Provider { get; set; }

    /// <summary>An Npgsql connection string, used when <see cref="Provider"/> is <c>postgres</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary><c>DATABASE_URL</c>: <c>postgres://user:pass@host:port/db</c>, converted to an Npgsql connection string.</summary>
    public string? DatabaseUrl { get; set; }

    /// <summary><c>RELAY_DATA_DIR</c>: holds <c>relay.db</c>, the key pepper and the ledger's fallback journal.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>
    /// How long a statement waits for a locked SQLite database (or a PostgreSQL command runs) before failing.
    /// Short on purpose: a request waiting on the ledger should get a 503 in seconds, not hang for SQLite's 30 s default.
    /// </summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long shutdown waits for queued ledger writes after the web server has drained.</summary>
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Ledger records that may wait for the writer; beyond this they go straight to the fallback journal.</summary>
    public int QueueCapacity { get; set; } = 10_000;
}

using OpenAiRelay.Storage;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>A migrated, empty store on one engine, for the contract tests that must hold on both.</summary>
public sealed class StoreTarget : IAsyncDisposable
{
    private StoreTarget(RelayDatabase database, TempDataDirectory directory, string? postgresConnectionString)
    {
        Database = database;
        Directory = directory;
        PostgresConnectionString = postgresConnectionString;
    }

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static TheoryData<string> Engines => new() { Sqlite, Postgres };

    internal RelayDatabase Database { get; }

    public TempDataDirectory Directory { get; }

    /// <summary>Set for PostgreSQL: lets a test point a relay at the same database.</summary>
    public string? PostgresConnectionString { get; }

    /// <summary>Configuration keys that make a relay or a CLI verb use this same store.</summary>
    public Dictionary<string, string?> Settings => PostgresConnectionString is null
        ? new() { ["Relay:Storage:DataDirectory"] = Directory.Path }
        : new()
        {
            ["Relay:Storage:DataDirectory"] = Directory.Path,
            ["Relay:Storage:Provider"] = "postgres",
            ["Relay:Storage:ConnectionString"] = PostgresConnectionString,
        };

    public static async Task<StoreTarget> CreateAsync(string engine, PostgresServer postgres, bool migrate = true)
    {
        var directory = new TempDataDirectory();
        string? connectionString = null;
        RelayDatabase database;
        if (engine == Postgres)
        {
            connectionString = await postgres.CreateDatabaseAsync();
            database = new PostgresRelayDatabase(connectionString, TimeSpan.FromSeconds(5));
        }
        else
        {
            database = new SqliteRelayDatabase(directory.File(RelayDatabaseFactory.SqliteFileName), TimeSpan.FromSeconds(2));
        }

        await database.PrepareAsync(CancellationToken.None);
        if (migrate)
        {
            await SchemaMigrator.MigrateAsync(database, TimeProvider.System, CancellationToken.None);
        }

        return new StoreTarget(database, directory, connectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (Database is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Dispose();
    }
}

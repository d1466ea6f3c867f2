using System.Diagnostics;
using Microsoft.Data.Sqlite;
using OpenAiRelay.Hosting;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Storage;

/// <summary>security.md G3, G5, G6: durable settings on every connection, short lock waits, no start on a bad file.</summary>
public sealed class SqliteDurabilityTests
{
    [Fact]
    public async Task EveryPooledConnection_IsWalWithSynchronousFullAndShortBusyTimeout()
    {
        using var directory = new TempDataDirectory();
        var database = new SqliteRelayDatabase(directory.File("relay.db"), TimeSpan.FromSeconds(2));
        await database.PrepareAsync(default);

        // Two connections open at once are two distinct pooled connections; then a third reuses a returned one.
        await using (var first = await database.OpenAsync(default))
        await using (var second = await database.OpenAsync(default))
        {
            await AssertDurableAsync(database, first);
            await AssertDurableAsync(database, second);
        }

        await using var reused = await database.OpenAsync(default);
        await AssertDurableAsync(database, reused);
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task DatabaseLockedByAnotherWriter_WriteFailsWithinSeconds()
    {
        using var directory = new TempDataDirectory();
        var database = new SqliteRelayDatabase(directory.File("relay.db"), TimeSpan.FromSeconds(2));
        await database.PrepareAsync(default);
        await SchemaMigrator.MigrateAsync(database, TimeProvider.System, default);
        await using var holder = new SqliteConnection($"Data Source={directory.File("relay.db")};Pooling=False");
        await holder.OpenAsync();
        using (var exclusive = holder.CreateCommand())
        {
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            await exclusive.ExecuteNonQueryAsync();
        }

        var store = new UsageStore(database);
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<SqliteException>(() => store.UpsertAsync([UsageRecords.InFlight("req_locked")], default).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task CorruptFile_StartupFailsWithOneLine()
    {
        using var directory = new TempDataDirectory();
        await File.WriteAllTextAsync(directory.File("relay.db"), new string('x', 8192));
        var database = new SqliteRelayDatabase(directory.File("relay.db"), TimeSpan.FromSeconds(2));

        var failure = await Assert.ThrowsAsync<RelayConfigurationException>(() => DatabaseOpener.OpenAsync(database, TimeProvider.System, migrate: true, default));
        var line = Assert.Single(failure.Failures);
        Assert.Contains("relay.db", line);
        Assert.Contains("not a database", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public async Task PathIsADirectory_StartupFails()
    {
        using var directory = new TempDataDirectory();
        Directory.CreateDirectory(directory.File("relay.db"));
        var database = new SqliteRelayDatabase(directory.File("relay.db"), TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<RelayConfigurationException>(() => DatabaseOpener.OpenAsync(database, TimeProvider.System, migrate: true, default));
    }

    [Fact]
    public void RelayBuild_CorruptDatabase_RefusesToStart()
    {
        using var directory = new TempDataDirectory();
        File.WriteAllText(directory.File("relay.db"), "this is not SQLite");
        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        var failure = Assert.Throws<RelayConfigurationException>(() => LedgerRelay.Build(settings));
        Assert.Contains("does not serve without its ledger", Assert.Single(failure.Failures));
    }

    private static async Task AssertDurableAsync(RelayDatabase database, System.Data.Common.DbConnection connection)
    {
        using var command = database.Command(connection, "PRAGMA journal_mode;");
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        command.CommandText = "PRAGMA synchronous;";
        Assert.Equal(2L, (long)(await command.ExecuteScalarAsync())!); // 2 = FULL
        command.CommandText = "PRAGMA busy_timeout;";
        Assert.Equal(2000L, (long)(await command.ExecuteScalarAsync())!);
    }
}

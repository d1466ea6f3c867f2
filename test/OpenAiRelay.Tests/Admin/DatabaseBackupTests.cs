using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using OpenAiRelay.Admin;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Admin;

/// <summary>
/// <c>openai-relay db backup</c>: a copy taken while a relay holds the database open, readable by its owner only, that
/// restored into a fresh data directory (with the key pepper) gives back working keys; and the refusals.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseBackupTests(PostgresServer postgres)
{
    [Fact]
    public async Task Backup_WhileARelayRuns_RestoresIntoAFreshDataDirectory_WhereTheKeyStillAuthenticates()
    {
        await using var target = await StoreTarget.CreateAsync(StoreTarget.Sqlite, postgres);
        var create = await RunAsync(target.Settings, "keys", "create", "alice");
        Assert.Equal(0, create.ExitCode);
        var token = create.Output.Split('\n')[0].Trim();

        using var backups = new TempDataDirectory();
        var file = backups.File("relay-backup.db");
        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = target.Directory.Path;
        await using (var running = await LedgerRelay.StartAsync(settings))
        {
            Assert.Equal(HttpStatusCode.BadGateway, (await running.SendAsync(HttpMethod.Get, "/v1/models", token)).StatusCode); // admitted
            var backup = await RunAsync(target.Settings, "db", "backup", file);
            Assert.True(backup.ExitCode == 0, backup.Error);
            Assert.Contains("backed up SQLite", backup.Output, StringComparison.Ordinal);
            Assert.Contains("pepper", backup.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(token, backup.Output + backup.Error, StringComparison.Ordinal);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.False(File.Exists(file + "-wal"));
        Assert.False(File.Exists(file + ".partial"));
        using (var check = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            check.Open();
            using var command = check.CreateCommand();
            command.CommandText = "PRAGMA integrity_check;";
            Assert.Equal("ok", command.ExecuteScalar());
        }

        // Restore: the copy as relay.db of a new data directory, with the same pepper.
        using var restored = new TempDataDirectory();
        File.Copy(file, restored.File("relay.db"));
        File.Copy(Path.Combine(target.Directory.Path, "pepper"), restored.File("pepper"));
        var restoredSettings = LedgerRelay.BaseSettings();
        restoredSettings["Relay:Storage:DataDirectory"] = restored.Path;
        await using var relay = await LedgerRelay.StartAsync(restoredSettings);
        Assert.Equal(HttpStatusCode.BadGateway, (await relay.SendAsync(HttpMethod.Get, "/v1/models", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await relay.SendAsync(HttpMethod.Get, "/v1/models", token[..^1] + "x")).StatusCode);
    }

    [Fact]
    public async Task Backup_RefusesToOverwrite_WithoutForce_AndSendsPostgresToPgDump()
    {
        await using var sqlite = await StoreTarget.CreateAsync(StoreTarget.Sqlite, postgres);
        using var backups = new TempDataDirectory();
        var file = backups.File("existing.db");
        await File.WriteAllTextAsync(file, "keep me");
        var refused = await RunAsync(sqlite.Settings, "db", "backup", file);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--force", refused.Error, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(file));
        Assert.Equal(0, (await RunAsync(sqlite.Settings, "db", "backup", file, "--force")).ExitCode);
        Assert.NotEqual("keep me", await File.ReadAllTextAsync(file));

        await using var pg = await StoreTarget.CreateAsync(StoreTarget.Postgres, postgres);
        var postgresBackup = await RunAsync(pg.Settings, "db", "backup", backups.File("pg.db"));
        Assert.Equal(1, postgresBackup.ExitCode);
        Assert.Contains("pg_dump", postgresBackup.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(pg.PostgresConnectionString!, postgresBackup.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(backups.File("pg.db")));
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<KeyValuePair<string, string?>> settings, params string[] args)
    {
        var root = new System.CommandLine.RootCommand();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        AdminCommands.AddTo(root, () => configuration);
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }).WaitAsync(TimeSpan.FromSeconds(30));
        SqliteConnection.ClearAllPools();
        return (exit, output.ToString(), error.ToString());
    }
}

using Npgsql;
using OpenAiRelay.Configuration;
using OpenAiRelay.Hosting;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Tests.Storage;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void PostgresUrl_BecomesNpgsqlConnectionString()
    {
        Assert.True(DatabaseUrl.TryConvert("postgres://relay:p%40ss%3Aword@db.internal:6543/ledger?sslmode=require", out var converted, out _));
        var builder = new NpgsqlConnectionStringBuilder(converted);
        Assert.Equal("db.internal", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("relay", builder.Username);
        Assert.Equal("p@ss:word", builder.Password);
        Assert.Equal("ledger", builder.Database);
        Assert.Equal(SslMode.Require, builder.SslMode);
    }

    [Fact]
    public void PostgresUrl_WithoutPort_Uses5432()
    {
        Assert.True(DatabaseUrl.TryConvert("postgresql://u:p@localhost/db", out var converted, out _));
        Assert.Equal(5432, new NpgsqlConnectionStringBuilder(converted).Port);
    }

    [Theory]
    [InlineData("mysql://u:secretpw@h/db")]
    [InlineData("postgres://u:secretpw@h")]
    [InlineData("not a url secretpw")]
    public void BadUrl_IsRefusedWithoutEchoingThePassword(string url)
    {
        Assert.False(DatabaseUrl.TryConvert(url, out _, out var error));
        Assert.DoesNotContain("secretpw", error);
    }

    [Fact]
    public void Factory_DefaultsToSqliteUnderTheDataDirectory()
    {
        var database = Assert.IsType<SqliteRelayDatabase>(RelayDatabaseFactory.Create(new StorageOptions { DataDirectory = "/tmp/somewhere" }));
        Assert.Equal("/tmp/somewhere/relay.db", database.Path);
    }

    [Fact]
    public void Factory_DatabaseUrl_ChoosesPostgres()
        => Assert.IsType<PostgresRelayDatabase>(RelayDatabaseFactory.Create(new StorageOptions { DatabaseUrl = "postgres://u:p@127.0.0.1:5432/relay" }));

    [Fact]
    public void Factory_PostgresWithoutConnection_FailsWithActionableMessage()
    {
        var failure = Assert.Throws<RelayConfigurationException>(() => RelayDatabaseFactory.Create(new StorageOptions { Provider = "postgres" }));
        Assert.Contains("DATABASE_URL", Assert.Single(failure.Failures));
    }

    [Fact]
    public void UnreachablePostgres_RelayRefusesToStart_WithoutLeakingThePassword()
    {
        using var directory = new OpenAiRelay.Tests.Infrastructure.TempDataDirectory();
        var settings = OpenAiRelay.Tests.Infrastructure.LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        settings["Relay:Storage:DatabaseUrl"] = "postgres://relay:hunter2-secret@127.0.0.1:9/ledger";
        var failure = Assert.Throws<RelayConfigurationException>(() => OpenAiRelay.Tests.Infrastructure.LedgerRelay.Build(settings));
        var line = Assert.Single(failure.Failures);
        Assert.Contains("PostgreSQL 127.0.0.1:9/ledger", line);
        Assert.DoesNotContain("hunter2", line);
    }

    [Fact]
    public void LegacyVariables_MapStorageSettings()
    {
        var variables = new Dictionary<string, string> { ["DATABASE_URL"] = "postgres://u:p@h/db", ["RELAY_DATA_DIR"] = "/data", ["RELAY_ADMIN_TOKEN"] = "adm", ["RELAY_KEY_PEPPER"] = "pep", ["RELAY_PRICES_FILE"] = "/p.json" };
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddLegacyEnvironmentVariables(v => variables.GetValueOrDefault(v)).Build();
        Assert.Equal("postgres://u:p@h/db", configuration["Relay:Storage:DatabaseUrl"]);
        Assert.Equal("/data", configuration["Relay:Storage:DataDirectory"]);
        Assert.Equal("adm", configuration["Relay:AdminToken"]);
        Assert.Equal("pep", configuration["Relay:Keys:Pepper"]);
        Assert.Equal("/p.json", configuration["Relay:PricesFile"]);
    }
}

using System.CommandLine;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using OpenAiRelay.Hosting;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// <c>openai-relay check</c>, invoked in-process as Program.cs wires it, against the fake OpenAI server on loopback:
/// one line per finding, exit 0 (warnings allowed), 1 (a check failed) or 2 (invalid configuration), no secret in
/// what it prints.
/// </summary>
public sealed class CheckCommandTests : IAsyncLifetime
{
    private const string UpstreamKey = "sk-check-UPSTREAM-4e1a7c9b2d5f8a30";
    private const string RelayToken = "rt-check-CLIENT-8b3d6f1a9c2e5d74";

    private readonly TempDataDirectory _data = new();
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = UpstreamKey }).DefaultTimeout();

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task EverythingInPlace_PassesWithOneModelsCall_AndPrintsNoSecret()
    {
        var result = await RunAsync(Settings());

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("openai-relay check: passed", result.Output);
        Assert.Contains("the key works", result.Output);
        Assert.Contains(_data.Path + " is writable", result.Output);
        Assert.Contains("1 shared token (RELAY_TOKEN)", result.Output);
        var call = Assert.Single(_fake.Requests);
        Assert.Equal("GET", call.Method);
        Assert.Equal("/v1/models", call.Path);
        Assert.Equal("Bearer " + UpstreamKey, call.Headers["Authorization"]);
        Assert.DoesNotContain(UpstreamKey, result.Output);
        Assert.DoesNotContain(RelayToken, result.Output);

        var json = await RunAsync(Settings(), "--json");
        Assert.Equal(0, json.ExitCode);
        using var document = JsonDocument.Parse(json.Output);
        Assert.Equal("ok", document.RootElement.GetProperty("status").GetString());
        var checks = document.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        Assert.Equal(["configuration", "upstream", "data directory", "storage", "access"], checks.Keys);
        Assert.All(checks.Values, status => Assert.Equal("ok", status));
    }

    [Fact]
    public async Task AWrongKey_Fails_WithTheErrorCodeButNotTheUpstreamsMessage()
    {
        const string WrongKey = "sk-check-WRONG-0f2b4d6e8a1c3e59";

        var result = await RunAsync(Settings(("Relay:Upstream:ApiKey", WrongKey)), "--json");

        Assert.Equal(1, result.ExitCode);
        var upstream = Finding(result.Output, "upstream");
        Assert.Equal("fail", upstream.GetProperty("status").GetString());
        Assert.Contains("401 (invalid_api_key, invalid_request_error)", upstream.GetProperty("detail").GetString());
        // OpenAI's message for a wrong key repeats its start and end ("sk-che...3e59"): none of it is printed.
        Assert.DoesNotContain("Incorrect API key", result.Output);
        Assert.DoesNotContain("3e59", result.Output);
        Assert.DoesNotContain("sk-check", result.Output);
    }

    [Fact]
    public async Task AnUpstreamThatDoesNotAnswer_Fails()
    {
        var closed = RelayProcess.FreePort();

        var result = await RunAsync(Settings(("Relay:Upstream:BaseUrl", $"http://127.0.0.1:{closed}")));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot reach 127.0.0.1:{closed}", result.Output);
        Assert.Contains("openai-relay check: failed", result.Output);
    }

    [Fact]
    public async Task ADataDirectoryThatCannotBeCreated_Fails()
    {
        // Under a regular file: not even root can create it (the tests run as root, so permissions would not do).
        var file = _data.File("not-a-directory");
        await File.WriteAllTextAsync(file, "x");

        var result = await RunAsync(Settings(("Relay:Storage:DataDirectory", Path.Combine(file, "data"))), "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("fail", Finding(result.Output, "data directory").GetProperty("status").GetString());
        Assert.Contains("is not writable", Finding(result.Output, "data directory").GetProperty("detail").GetString());
        Assert.Equal("fail", Finding(result.Output, "storage").GetProperty("status").GetString());
    }

    [Fact]
    public async Task TheDataDirectory_IsCheckedWheneverTheServerWouldWriteThere()
    {
        const string Pepper = "pepper-for-the-check-0123456789abcdef";

        // DATABASE_URL beside an explicit sqlite provider: the ledger stays in SQLite (the factory's rule), so the
        // directory matters even with a configured pepper.
        var sqlite = await RunAsync(Settings(("Relay:Storage:Provider", "sqlite"), ("Relay:Storage:DatabaseUrl", "postgres://relay:pw@127.0.0.1:1/relay"), ("Relay:Keys:Pepper", Pepper)), "--json");
        Assert.Equal(0, sqlite.ExitCode);
        Assert.Contains("is writable", Finding(sqlite.Output, "data directory").GetProperty("detail").GetString());

        // PostgreSQL with a configured pepper: nothing is written there.
        var postgres = await RunAsync(Settings(("Relay:Storage:DatabaseUrl", "postgres://relay:pw@127.0.0.1:1/relay"), ("Relay:Keys:Pepper", Pepper)), "--json");
        Assert.Equal("not used (PostgreSQL, RELAY_KEY_PEPPER set)", Finding(postgres.Output, "data directory").GetProperty("detail").GetString());
        Assert.Equal("fail", Finding(postgres.Output, "storage").GetProperty("status").GetString());
        Assert.DoesNotContain(":pw@", postgres.Output);
    }

    [Fact]
    public async Task NoTokenAndNoKey_WarnsThatTheRelayIsOpen_ButPasses()
    {
        var result = await RunAsync(Settings(("Relay:Tokens", null)), "--json");

        Assert.Equal(0, result.ExitCode);
        using var document = JsonDocument.Parse(result.Output);
        Assert.Equal("warn", document.RootElement.GetProperty("status").GetString());
        var access = Finding(result.Output, "access");
        Assert.Equal("warn", access.GetProperty("status").GetString());
        Assert.StartsWith("open relay", access.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("Relay:Upstream:BaseUrl", "ftp://api.openai.com", "OPENAI_BASE_URL must be an absolute http:// or https:// URL")]
    [InlineData("Relay:Upstream:ApiKey", "", "OPENAI_API_KEY is not set")]
    [InlineData("Relay:Redis:Url", "http://redis:6379", "REDIS_URL must look like")]
    public async Task AnInvalidConfiguration_ExitsTwo_WithTheServersMessage(string key, string value, string message)
    {
        var result = await RunAsync(Settings((key, value)));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Output);
        Assert.Contains("the relay would not start", result.Output);
        Assert.Empty(_fake.Requests);
    }

    [Fact]
    public async Task RedisConfigured_PassesWhenItAnswers_WarnsWhenItDoesNot()
    {
        await using (var redis = await RedisServer.StartAsync())
        {
            var up = await RunAsync(Settings(("Relay:Redis:Url", redis.Url)), "--json");
            Assert.Equal(0, up.ExitCode);
            Assert.Equal("ok", Finding(up.Output, "redis").GetProperty("status").GetString());
        }

        var down = await RunAsync(Settings(("Relay:Redis:Url", $"redis://:secret-redis-password@127.0.0.1:{RelayProcess.FreePort()}/0")), "--json");
        Assert.Equal(0, down.ExitCode);
        var finding = Finding(down.Output, "redis");
        Assert.Equal("warn", finding.GetProperty("status").GetString());
        Assert.Contains("limits are kept per instance", finding.GetProperty("detail").GetString());
        Assert.DoesNotContain("secret-redis-password", down.Output);
    }

    private (string Key, string? Value)[] Settings(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Relay:Upstream:ApiKey"] = UpstreamKey,
            ["Relay:Upstream:BaseUrl"] = _fake.BaseAddress.ToString(),
            ["Relay:Tokens"] = RelayToken,
            ["Relay:Storage:DataDirectory"] = _data.Path,
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings.Select(pair => (pair.Key, pair.Value)).ToArray();
    }

    private static JsonElement Finding(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
    }

    internal static async Task<(int ExitCode, string Output)> RunAsync((string Key, string? Value)[] settings, params string[] args)
        => await RunAsync(settings, frontHandler: null, args);

    internal static async Task<(int ExitCode, string Output)> RunAsync((string Key, string? Value)[] settings, Func<HttpMessageHandler>? frontHandler, params string[] args)
    {
        var root = new RootCommand();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, s.Value))).Build();
        CheckCommand.AddTo(root, () => configuration, frontHandler: frontHandler);
        var output = new StringWriter();
        var exit = await root.Parse(["check", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = output }).WaitAsync(TimeSpan.FromSeconds(60));
        SqliteConnection.ClearAllPools();
        return (exit, output.ToString());
    }
}

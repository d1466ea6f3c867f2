using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAiRelay.Hosting;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>The real relay (the same composition root as production) on a real Kestrel socket, 127.0.0.1, free port.</summary>
public sealed class RelayServer : IAsyncDisposable
{
    public const string UpstreamKeyCanary = "sk-canary-UPSTREAM-0d5f1e2a9b7c4e31";
    public const string ClientToken = "rt-canary-CLIENT-7f3a9c1e5b2d4a68";
    public const string SecondClientToken = "rt-canary-SECOND-2b8e6d4f0a1c3e57";

    private readonly WebApplication _app;

    private readonly string _dataDirectory;

    private RelayServer(WebApplication app, CapturedLogs logs, Uri baseAddress, string dataDirectory)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Logs = logs;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>This relay's <c>RELAY_DATA_DIR</c>: <c>relay.db</c>, the pepper and the ledger's fallback journal.</summary>
    public string DataDirectory => _dataDirectory;

    /// <summary>The SDK-style base URL, <c>http://127.0.0.1:port/v1</c>.</summary>
    public Uri ApiBase => new(BaseAddress, "v1");

    public CapturedLogs Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a relay in front of <paramref name="upstreamBaseUrl"/>; <paramref name="settings"/> override any Relay: key.</summary>
    public static async Task<RelayServer> StartAsync(
        string upstreamBaseUrl, IDictionary<string, string?>? settings = null, string upstreamKey = UpstreamKeyCanary, Action<IServiceCollection>? services = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Relay:Upstream:ApiKey"] = upstreamKey,
            ["Relay:Upstream:BaseUrl"] = upstreamBaseUrl,
            ["Relay:Tokens"] = $"{ClientToken},{SecondClientToken}",
            ["Relay:Listen:Port"] = "0",
            ["Relay:Listen:BindAddress"] = "127.0.0.1",
            ["Relay:ShutdownTimeout"] = "00:00:05",
            // Each relay its own ledger, unless a test shares one on purpose.
            ["Relay:Storage:DataDirectory"] = Path.Combine(Path.GetTempPath(), "openai-relay-test-" + Guid.NewGuid().ToString("N")),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var logs = new CapturedLogs();
        var app = RelayApplication.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(values);
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            builder.Logging.AddProvider(logs);
            // NOTE: appsettings.json's category levels (Yarp: Error, Microsoft.AspNetCore: Warning) would hide most of
            // the framework's lines from the secret scans. Set every category it names to Trace, as the most verbose
            // operator would: what the scans see is then everything a deployment could log.
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Trace",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Trace",
                ["Logging:LogLevel:Yarp"] = "Trace",
            });
            services?.Invoke(builder.Services);
        });
        await app.StartAsync().DefaultTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new RelayServer(app, logs, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/"), values["Relay:Storage:DataDirectory"]!);
    }

    public HttpClient CreateClient(string? token = ClientToken)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(15));
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

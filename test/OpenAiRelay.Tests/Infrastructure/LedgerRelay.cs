using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OpenAiRelay.Hosting;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>
/// A relay on a real Kestrel (127.0.0.1, port 0) built by <see cref="RelayApplication.Build"/> with configuration
/// overrides, for the key, admin and ledger tests. The upstream defaults to a closed port, so an admitted request
/// answers 502 and a refused one 401: enough to see authentication decisions without a fake OpenAI.
/// </summary>
public sealed class LedgerRelay : IAsyncDisposable
{
    public const string ClosedUpstream = "http://127.0.0.1:9";

    private LedgerRelay(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public static Dictionary<string, string?> BaseSettings(string upstream = ClosedUpstream) => new()
    {
        ["Relay:Upstream:ApiKey"] = "sk-upstream-canary",
        ["Relay:Upstream:BaseUrl"] = upstream,
        ["Relay:Listen:Port"] = "0",
        ["Relay:Tokens"] = "",
        ["Relay:AdminToken"] = "",
        // Whatever the machine's environment says, these tests choose their own store.
        ["Relay:Storage:DatabaseUrl"] = "",
        ["Relay:Keys:Pepper"] = "",
    };

    public static WebApplication Build(IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null)
        => RelayApplication.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
            configure?.Invoke(builder);
        });

    public static async Task<LedgerRelay> StartAsync(IDictionary<string, string?> settings, Action<WebApplication>? map = null, Action<WebApplicationBuilder>? configure = null)
    {
        var app = Build(settings, configure);
        map?.Invoke(app);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LedgerRelay(app, new Uri(address));
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string? bearer)
    {
        var request = new HttpRequestMessage(method, path);
        if (bearer is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        }

        return request;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? bearer, HttpContent? content = null)
    {
        using var request = Request(method, path, bearer);
        request.Content = content;
        return await Client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await App.DisposeAsync();
    }
}

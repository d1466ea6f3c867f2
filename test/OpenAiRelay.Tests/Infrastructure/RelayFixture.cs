using FakeOpenAi;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>A fake OpenAI upstream and a relay in front of it, both on real loopback sockets.</summary>
public class RelayFixture : IAsyncLifetime
{
    public FakeOpenAiServer Fake { get; private set; } = null!;

    public RelayServer Relay { get; private set; } = null!;

    /// <summary>Extra relay settings for a derived fixture.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        Fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary }).DefaultTimeout();
        Relay = await RelayServer.StartAsync(Fake.BaseAddress.ToString().TrimEnd('/'), Settings);
    }

    public async Task DisposeAsync()
    {
        await Relay.DisposeAsync();
        await Fake.DisposeAsync();
    }

    /// <summary>A client that talks to the fake directly with the upstream key: the "direct" side of a comparison.</summary>
    public HttpClient CreateDirectClient()
    {
        var client = new HttpClient { BaseAddress = Fake.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Fake.ApiKey);
        return client;
    }
}

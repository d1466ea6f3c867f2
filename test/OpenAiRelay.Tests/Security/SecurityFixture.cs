using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// A fake upstream and a relay in front of it with every kind of secret seeded: the upstream key, two shared client
/// tokens, an admin token and a database client key (<c>rk_live_...</c>) created through the admin API.
/// </summary>
public class SecurityFixture : IAsyncLifetime
{
    public const string AdminToken = "adm-canary-ADMIN-5c1e9a7b3d2f4e60";

    public FakeOpenAiServer Fake { get; private set; } = null!;

    public RelayServer Relay { get; private set; } = null!;

    /// <summary>The database client key created at start-up; it is a secret like the others.</summary>
    public string ClientKey { get; private set; } = null!;

    /// <summary>Every secret the relay holds or hands out; none may appear in a response, a log or the database.</summary>
    public IReadOnlyList<string> Canaries => [.. Secrets.Canaries, AdminToken, ClientKey];

    /// <summary>Starts a new case: the four invariants, counted from now.</summary>
    public Invariants Check() => new(Relay, Fake, Canaries);

    /// <summary>The same checks for another relay in front of this fixture's fake.</summary>
    public Invariants Check(RelayServer relay) => new(relay, Fake, Canaries);

    /// <summary>Extra relay settings for a derived fixture.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        Fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary }).DefaultTimeout();
        var settings = new Dictionary<string, string?>(Settings) { ["Relay:AdminToken"] = AdminToken };
        Relay = await RelayServer.StartAsync(Fake.BaseAddress.ToString().TrimEnd('/'), settings);
        ClientKey = await CreateKeyAsync(Relay, "security-" + Guid.NewGuid().ToString("N")[..8]);
    }

    public async Task DisposeAsync()
    {
        await Relay.DisposeAsync();
        await Fake.DisposeAsync();
    }

    public static async Task<string> CreateKeyAsync(RelayServer relay, string name)
    {
        using var client = relay.CreateClient(AdminToken);
        using var response = await client.PostAsJsonAsync(new Uri("admin/keys", UriKind.Relative), new { name }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("key").GetString()!;
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Admin;

/// <summary>The admin API and client keys on real Kestrel relays (security.md A5, A7, A10).</summary>
[Collection(PostgresCollection.Name)]
public sealed class AdminApiTests(PostgresServer postgres)
{
    private const string AdminToken = "admin-token-for-tests-0123456789";

    public static TheoryData<string> Engines => StoreTarget.Engines;

    [Fact]
    public async Task NoAdminToken_EveryAdminPathIs404()
    {
        using var directory = new TempDataDirectory();
        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        await using var relay = await LedgerRelay.StartAsync(settings);

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/admin/keys"), (HttpMethod.Post, "/admin/keys"), (HttpMethod.Delete, "/admin/keys/alice"), (HttpMethod.Get, "/admin/usage"), (HttpMethod.Get, "/admin") })
        {
            using var response = await relay.SendAsync(method, path, AdminToken);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task WrongOrMissingAdminToken_Is401_AndAClientKeyIsNotAnAdminToken()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path);
        var key = await CreateKeyAsync(relay, "alice");

        foreach (var bearer in new[] { null, "wrong", AdminToken + "x", AdminToken[..^1], key })
        {
            using var response = await relay.SendAsync(HttpMethod.Get, "/admin/keys", bearer);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("invalid_admin_token", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task FailedAdminTokens_AreThrottledPerAddress_LikeClientTokens()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path, new Dictionary<string, string?> { ["Relay:Limits:FailedAuthPerMinute"] = "3" });

        for (var i = 0; i < 3; i++)
        {
            using var wrong = await relay.SendAsync(HttpMethod.Get, "/admin/keys", "wrong-admin-token-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var over = await relay.SendAsync(HttpMethod.Get, "/admin/keys", "wrong-admin-token-4");
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        Assert.True(int.Parse(over.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("rate_limit_exceeded", JsonDocument.Parse(await over.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());

        // The address is locked out, not the token: the right admin token from it waits too, as does the client API.
        using var right = await relay.SendAsync(HttpMethod.Get, "/admin/keys", AdminToken);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, "any"));
    }

    [Fact]
    public async Task EveryKeyChange_IsInTheAuditLog_ByLabelAndAddress_WithoutASecret()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path);
        var key = await CreateKeyAsync(relay, "audited");
        using (var revoke = await relay.SendAsync(HttpMethod.Delete, "/admin/keys/audited", AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        using var response = await relay.SendAsync(HttpMethod.Get, "/admin/audit?since=2000-01-01", AdminToken);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var entries = JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["key.created", "key.revoked"], entries.Select(e => e.GetProperty("action").GetString()));
        Assert.All(entries, e =>
        {
            Assert.Equal("admin-token", e.GetProperty("actor").GetString());
            Assert.Equal("127.0.0.1", e.GetProperty("address").GetString());
            Assert.StartsWith("audited (rk_live_", e.GetProperty("target").GetString(), StringComparison.Ordinal);
        });
        Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        Assert.DoesNotContain(AdminToken, text, StringComparison.Ordinal);

        using var future = await relay.SendAsync(HttpMethod.Get, "/admin/audit?since=2999-01-01", AdminToken);
        Assert.Empty(JsonDocument.Parse(await future.Content.ReadAsStringAsync()).RootElement.GetProperty("data").EnumerateArray());
        using var bad = await relay.SendAsync(HttpMethod.Get, "/admin/audit?since=yesterday", AdminToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task AnExpiryBeyondRange_Is400_NotA500()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path);
        foreach (var expiresIn in new[] { "10675199.00:00:00", "100000w" })
        {
            using var response = await relay.SendAsync(HttpMethod.Post, "/admin/keys", AdminToken, JsonContent.Create(new { name = "far", expires_in = expiresIn }));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("100 years", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CreateListRevoke_AndTheKeyWorksUntilRevoked()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path);

        using (var create = await relay.SendAsync(HttpMethod.Post, "/admin/keys", AdminToken, JsonContent.Create(new { name = "alice", expires_in = "7d" })))
        {
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        using (var duplicate = await relay.SendAsync(HttpMethod.Post, "/admin/keys", AdminToken, JsonContent.Create(new { name = "alice" })))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        using (var invalid = await relay.SendAsync(HttpMethod.Post, "/admin/keys", AdminToken, new StringContent("{\"name\":\"has space\"}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }

        var bob = await CreateKeyAsync(relay, "bob");
        Assert.Equal(HttpStatusCode.BadGateway, await StatusAsync(relay, bob)); // admitted; the upstream is a closed port
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(relay, bob[..^1] + (bob[^1] == '0' ? "1" : "0")));

        using (var list = await relay.SendAsync(HttpMethod.Get, "/admin/keys", AdminToken))
        {
            var body = await list.Content.ReadAsStringAsync();
            Assert.Contains("\"alice\"", body);
            Assert.Contains("\"bob\"", body);
            Assert.DoesNotContain(bob[19..], body);
        }

        using (var revoke = await relay.SendAsync(HttpMethod.Delete, "/admin/keys/bob", AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        // Revoked through this instance: refused at once.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(relay, bob));
        using var again = await relay.SendAsync(HttpMethod.Delete, "/admin/keys/bob", AdminToken);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        using var usage = await relay.SendAsync(HttpMethod.Get, "/admin/usage?since=2026-01-01&by=day", AdminToken);
        Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        using var badUsage = await relay.SendAsync(HttpMethod.Get, "/admin/usage?by=galaxy", AdminToken);
        Assert.Equal(HttpStatusCode.BadRequest, badUsage.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task RevokedOnOneInstance_SecondInstanceRefusesWithinTheCacheTtl(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var ttl = TimeSpan.FromSeconds(1);
        await using var first = await StartAsync(target.Directory.Path, target.Settings, ttl);
        await using var second = await StartAsync(target.Directory.Path, target.Settings, ttl);

        var key = await CreateKeyAsync(first, "shared");
        Assert.Equal(HttpStatusCode.BadGateway, await StatusAsync(second, key)); // now cached on the second instance

        using (var revoke = await first.SendAsync(HttpMethod.Delete, "/admin/keys/shared", AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        var revokedAt = DateTime.UtcNow;
        while (await StatusAsync(second, key) != HttpStatusCode.Unauthorized)
        {
            Assert.True(DateTime.UtcNow - revokedAt < ttl + TimeSpan.FromSeconds(2), "the second instance still accepts a revoked key after the cache TTL");
            await Task.Delay(100);
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task APolicySetOnOneInstance_HoldsOnTheSecondWithinTheCacheTtl(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var ttl = TimeSpan.FromSeconds(1);
        await using var first = await StartAsync(target.Directory.Path, target.Settings, ttl);
        await using var second = await StartAsync(target.Directory.Path, target.Settings, ttl);

        var key = await CreateKeyAsync(first, "moving");
        Assert.Equal(HttpStatusCode.BadGateway, await StatusAsync(second, key)); // admitted, and cached on the second

        using (var set = await first.SendAsync(HttpMethod.Patch, "/admin/keys/moving", AdminToken, new StringContent("""{"endpoints":["/v1/chat"]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(first, key)); // the instance that changed it: at once
        var changedAt = DateTime.UtcNow;
        while (await StatusAsync(second, key) != HttpStatusCode.Forbidden)
        {
            Assert.True(DateTime.UtcNow - changedAt < ttl + TimeSpan.FromSeconds(2), "the second instance ignores a changed policy after the cache TTL");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task OpenRelay_ClosesWhenTheFirstKeyIsCreated()
    {
        using var directory = new TempDataDirectory();
        await using var relay = await StartAsync(directory.Path);
        Assert.Equal(HttpStatusCode.BadGateway, await StatusAsync(relay, null)); // open: anonymous admitted

        var key = await CreateKeyAsync(relay, "first");
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(relay, null));
        Assert.Equal(HttpStatusCode.BadGateway, await StatusAsync(relay, key));
    }

    private static async Task<LedgerRelay> StartAsync(string dataDirectory, IDictionary<string, string?>? store = null, TimeSpan? cacheTtl = null)
    {
        var settings = LedgerRelay.BaseSettings();
        foreach (var (name, value) in store ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        settings["Relay:Storage:DataDirectory"] = dataDirectory;
        settings["Relay:AdminToken"] = AdminToken;
        settings["Relay:Keys:CacheTtl"] = (cacheTtl ?? TimeSpan.FromSeconds(5)).ToString();
        return await LedgerRelay.StartAsync(settings);
    }

    private static async Task<string> CreateKeyAsync(LedgerRelay relay, string name)
    {
        using var response = await relay.SendAsync(HttpMethod.Post, "/admin/keys", AdminToken, JsonContent.Create(new { name }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("key").GetString()!;
    }

    private static async Task<HttpStatusCode> StatusAsync(LedgerRelay relay, string? bearer)
    {
        using var response = await relay.SendAsync(HttpMethod.Get, "/v1/models", bearer);
        return response.StatusCode;
    }
}

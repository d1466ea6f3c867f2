using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Limits;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Limits;

/// <summary>
/// Per-key rpm, max_concurrent and endpoint allow-lists end to end: keys made through the admin API, requests from a
/// real client through a real relay to the fake upstream, which proves that a refused request never reached it.
/// </summary>
public sealed class KeyLimitsTests : IAsyncLifetime
{
    internal const string AdminToken = "admin-token-for-limit-tests-0123456789";
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() =>
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task Rpm_AdmitsTheAllowance_ThenRefuses429WithOpenAisHeaders_AndTheUpstreamSeesNone()
    {
        await using var relay = await StartRelayAsync();
        var (key, created) = await CreateKeyAsync(relay, new { name = "ci-job", rpm = 3 });
        Assert.Equal("""{"rpm":3}""", created.GetProperty("policy").GetRawText());
        using var client = relay.CreateClient(key);
        var test = Guid.NewGuid().ToString("N");

        for (var remaining = 2; remaining >= 0; remaining--)
        {
            using var ok = await client.SendAsync(Chat(test)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            // The key's own limit, in place of the upstream's organisation-wide figures.
            Assert.Equal("3", Header(ok, "x-ratelimit-limit-requests"));
            Assert.Equal(remaining.ToString(System.Globalization.CultureInfo.InvariantCulture), Header(ok, "x-ratelimit-remaining-requests"));
            Assert.False(ok.Headers.Contains("x-ratelimit-limit-tokens"));
        }

        using var refused = await client.SendAsync(Chat(test)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ErrorAsync(refused);
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.InRange(int.Parse(Header(refused, "Retry-After")!, System.Globalization.CultureInfo.InvariantCulture), 19, 20);
        Assert.InRange(int.Parse(Header(refused, "retry-after-ms")!, System.Globalization.CultureInfo.InvariantCulture), 19_000, 20_000);
        Assert.Equal("3", Header(refused, "x-ratelimit-limit-requests"));
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.EndsWith("s", Header(refused, "x-ratelimit-reset-requests"), StringComparison.Ordinal);

        Assert.Equal(3, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));

        // Another key, and the shared relay token, have their own allowance (none here: unlimited).
        using var other = relay.CreateClient();
        using var shared = await other.SendAsync(Chat(test)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        Assert.Equal("10000", Header(shared, "x-ratelimit-limit-requests"));
    }

    [Fact]
    public async Task MaxConcurrent_RefusesWhileTheSlotIsHeld_AndFreesItWhenTheStreamEndsOrTheClientLeaves()
    {
        await using var relay = await StartRelayAsync();
        var (key, _) = await CreateKeyAsync(relay, new { name = "one-at-a-time", max_concurrent = 1, rpm = 3 });
        var keyId = key[8..18];
        var limiter = relay.Services.GetRequiredService<KeyLimiter>();
        using var client = relay.CreateClient(key);
        var test = Guid.NewGuid().ToString("N");

        // A stream holds its slot to its last byte.
        var stream = Chat(test, stream: true);
        stream.Headers.Add("x-fake-events", "10");
        stream.Headers.Add("x-fake-event-interval-ms", "100");
        using (var streaming = await client.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, streaming.StatusCode);
            for (var i = 0; i < 5; i++)
            {
                using var refused = await client.SendAsync(Chat(test)).DefaultTimeout();
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
                var error = await ErrorAsync(refused);
                Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
                Assert.Contains("concurrent", error.GetProperty("message").GetString(), StringComparison.Ordinal);
                Assert.NotNull(Header(refused, "Retry-After"));
            }

            var events = await SseReader.ReadEventsAsync(await streaming.Content.ReadAsStreamAsync()).DefaultTimeout();
            Assert.Equal("data: [DONE]", events[^1].Text);
        }

        await WaitUntilAsync(() => limiter.InFlight(keyId) == 0);
        using (var next = await client.SendAsync(Chat(test)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            // Five refusals for concurrency spent none of the minute's requests: two admitted, one left.
            Assert.Equal("1", Header(next, "x-ratelimit-remaining-requests"));
        }

        // A client that leaves mid-stream frees the slot too (and the upstream call is cancelled).
        var stalled = Chat(test, stream: true);
        stalled.Headers.Add("x-fake-stall-after", "1");
        using (var leaving = new CancellationTokenSource())
        {
            var response = await client.SendAsync(stalled, HttpCompletionOption.ResponseHeadersRead, leaving.Token).DefaultTimeout();
            Assert.Equal(1, limiter.InFlight(keyId));
            await leaving.CancelAsync();
            response.Dispose();
        }

        await WaitUntilAsync(() => limiter.InFlight(keyId) == 0);
        // The slot is free and the minute is spent: now the rate limit is what refuses.
        using var after = await client.SendAsync(Chat(test)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, after.StatusCode);
        Assert.DoesNotContain("concurrent", (await ErrorAsync(after)).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Fact]
    public async Task Endpoints_AllowListIs403Elsewhere_AndTheOrganizationApiIsRefusedUnlessNamed()
    {
        await using var relay = await StartRelayAsync();
        var (chatOnly, created) = await CreateKeyAsync(relay, new { name = "chat-only", endpoints = new[] { "/v1/chat" } });
        Assert.Equal("""{"endpoints":["/v1/chat"]}""", created.GetProperty("policy").GetRawText());
        var (everything, _) = await CreateKeyAsync(relay, new { name = "everything", endpoints = new[] { "/v1" } });
        var (admin, _) = await CreateKeyAsync(relay, new { name = "org-admin", endpoints = new[] { "/v1/organization" } });
        var (limited, _) = await CreateKeyAsync(relay, new { name = "limited", rpm = 100 });
        var (minting, _) = await CreateKeyAsync(relay, new { name = "minting", rpm = 100, endpoints = new[] { "/v1/realtime/client_secrets" } });
        var test = Guid.NewGuid().ToString("N");

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, chatOnly, Chat(test)));
        foreach (var (path, body) in new[] { ("v1/embeddings", """{"model":"text-embedding-3-small","input":"x"}"""), ("v1/chatx", "{}"), ("v1/models", null) })
        {
            using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, path);
            request.Headers.Add("x-test-id", test);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            using var client = relay.CreateClient(chatOnly);
            using var response = await client.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var error = await ErrorAsync(response);
            Assert.Equal("endpoint_not_allowed", error.GetProperty("code").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("false", Header(response, "x-should-retry"));
        }

        // OpenAI's admin API: refused for the shared token, an unlimited key and a "/v1" list; forwarded when named.
        foreach (var token in new[] { RelayServer.ClientToken, everything, limited })
        {
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(relay, token, Get("v1/organization/users", test)));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(relay, token, Get("v1/ORGANIZATION/api_keys", test)));
        }

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(relay, admin, Get("v1/organization/users", test)));

        // A credential for direct use would escape every limit: refused for a limited key unless named.
        var secret = """{"session":{"type":"realtime","model":"gpt-realtime"}}""";
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(relay, limited, Post("v1/realtime/client_secrets", secret, test)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(relay, minting, Post("v1/realtime/client_secrets", secret, test)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(relay, everything, Post("v1/realtime/client_secrets", secret, test)));

        var seen = _fake.Requests.Where(r => r.Headers.GetValueOrDefault("x-test-id") == test).Select(r => r.Path).ToList();
        Assert.Equal(["/v1/chat/completions", "/v1/organization/users", "/v1/realtime/client_secrets", "/v1/realtime/client_secrets"], seen);
    }

    [Fact]
    public async Task Patch_ChangesAPolicyAtOnce_NullClearsIt_AndBadChangesAre400()
    {
        await using var relay = await StartRelayAsync();
        var (key, created) = await CreateKeyAsync(relay, new { name = "changing" });
        Assert.Equal("{}", created.GetProperty("policy").GetRawText());
        var test = Guid.NewGuid().ToString("N");

        var changed = await PatchAsync(relay, "changing", """{"rpm": 1, "endpoints": ["/v1/chat"]}""", HttpStatusCode.OK);
        Assert.Equal("""{"rpm":1,"endpoints":["/v1/chat"]}""", changed.GetProperty("policy").GetRawText());
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, key, Chat(test)));

        // By label too; absent fields stay, null clears.
        changed = await PatchAsync(relay, "rk_live_" + key[8..18], """{"rpm": null}""", HttpStatusCode.OK);
        Assert.Equal("""{"endpoints":["/v1/chat"]}""", changed.GetProperty("policy").GetRawText());
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(relay, key, Get("v1/models", test)));

        foreach (var (body, message) in new[]
        {
            ("""{"rpm": 0}""", "between 1 and"),
            ("""{"rpm": "sixty"}""", "whole number"),
            ("""{"budget": 5}""", "unknown policy field 'budget'"),
            ("""{"endpoints": ["/admin"]}""", "/v1 path prefix"),
            ("{}", "at least one policy field"),
            ("[]", "JSON object"),
            ("not json", "must be JSON"),
        })
        {
            var error = await PatchAsync(relay, "changing", body, HttpStatusCode.BadRequest);
            Assert.Contains(message, error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        await PatchAsync(relay, "nobody", """{"rpm": 5}""", HttpStatusCode.NotFound);
        using var audit = await relay.CreateClient(AdminToken).GetAsync("admin/audit").DefaultTimeout();
        using var entries = JsonDocument.Parse(await audit.Content.ReadAsStringAsync());
        var targets = entries.RootElement.GetProperty("data").EnumerateArray()
            .Where(e => e.GetProperty("action").GetString() == "key.policy_changed")
            .Select(e => e.GetProperty("target").GetString()!)
            .ToList();
        Assert.Equal(2, targets.Count);
        Assert.EndsWith("""policy {"rpm":1,"endpoints":["/v1/chat"]}""", targets[0], StringComparison.Ordinal);
        Assert.DoesNotContain(targets, t => t.Contains(key[19..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheDefaultPolicy_AppliesToTheSharedTokenAndToKeysThatSetNone_NotToKeysWithTheirOwn()
    {
        await using var relay = await StartRelayAsync(new Dictionary<string, string?> { ["Relay:Limits:Default:Rpm"] = "2" });
        var (plain, _) = await CreateKeyAsync(relay, new { name = "plain" });
        var (own, _) = await CreateKeyAsync(relay, new { name = "own", max_concurrent = 10 });
        var test = Guid.NewGuid().ToString("N");

        foreach (var token in new[] { RelayServer.ClientToken, plain })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, token, Chat(test)));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, token, Chat(test)));
            Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, token, Chat(test)));
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, own, Chat(test)));
        }
    }

    [Fact]
    public async Task AnUnknownDefaultPolicyField_StopsTheRelayAtStartUp()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartRelayAsync(new Dictionary<string, string?> { ["Relay:Limits:Default:Rmp"] = "2" }));
        Assert.Contains("Rmp", error.ToString(), StringComparison.Ordinal);
    }

    private async Task<RelayServer> StartRelayAsync(Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken };
        foreach (var (name, value) in settings ?? [])
        {
            values[name] = value;
        }

        return await RelayServer.StartAsync(_fake.BaseAddress.ToString(), values);
    }

    internal static async Task<(string Key, JsonElement Created)> CreateKeyAsync(RelayServer relay, object body)
    {
        using var admin = relay.CreateClient(AdminToken);
        using var response = await admin.PostAsJsonAsync("admin/keys", body).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var created = JsonDocument.Parse(text).RootElement;
        return (created.GetProperty("key").GetString()!, created);
    }

    internal static async Task<JsonElement> PatchAsync(RelayServer relay, string key, string body, HttpStatusCode expected)
    {
        using var admin = relay.CreateClient(AdminToken);
        using var response = await admin.PatchAsync("admin/keys/" + key, new StringContent(body, Encoding.UTF8, "application/json")).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    internal static async Task<HttpStatusCode> StatusAsync(RelayServer relay, string token, HttpRequestMessage request)
    {
        using var client = relay.CreateClient(token);
        using (request)
        using (var response = await client.SendAsync(request).DefaultTimeout())
        {
            await response.Content.ReadAsByteArrayAsync();
            return response.StatusCode;
        }
    }

    internal static HttpRequestMessage Chat(string test, bool stream = false)
    {
        var request = Post("v1/chat/completions", $$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""", test);
        return request;
    }

    internal static HttpRequestMessage Post(string path, string json, string test)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", test);
        return request;
    }

    internal static HttpRequestMessage Get(string path, string test)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("x-test-id", test);
        return request;
    }

    internal static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;

    internal static async Task<JsonElement> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in 10 s");
            await Task.Delay(20);
        }
    }
}

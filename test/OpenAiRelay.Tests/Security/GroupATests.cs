using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Authentication;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>security.md matrix, group A: authentication and secrets. A1, A5, A7, A11 are proven elsewhere (docs/threat-model.md).</summary>
public sealed class GroupATests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    public static TheoryData<string> InjectionShapedTokens => new()
    {
        "' OR '1'='1",
        "%",
        "%00",
        "rk_live_' OR 1=1--_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "rk_live_AAAAAAAAAA_" + new string('a', 39) + ";",
        "rk_live_%27%20OR%201%3D1%20_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        new string('A', 8 * 1024),
    };

    [Theory]
    [MemberData(nameof(InjectionShapedTokens))]
    public async Task A3_InjectionShapedToken_Is401BeforeAnyDbAccess(string token)
    {
        var check = fixture.Check();
        var keys = fixture.Relay.Services.GetRequiredService<KeyAuthenticator>();
        var lookups = keys.Lookups;
        using var client = fixture.Relay.CreateClient(token: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        using var response = await client.SendAsync(request).DefaultTimeout();
        var body = await check.RecordAsync(response, admitted: false);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_api_key", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(lookups, keys.Lookups);
        Assert.Empty(check.UpstreamRequests);
        Assert.DoesNotContain(fixture.Relay.Logs.Entries, e => e.Message.Contains(token, StringComparison.Ordinal) && token.Length > 4);
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData("Bearer \0tok")]
    [InlineData("Bearer t\u00e9st")]
    [InlineData("Bearer \U0001F600")]
    public async Task A3_NulOrNonAsciiToken_IsRefusedBeforeTheApp(string authorization)
    {
        var check = fixture.Check();
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, $"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n");
        check.RecordRaw(raw);
        var status = Assert.Single(RawHttp.StatusCodes(raw));
        Assert.True(status is 400 or 401, raw);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task A4_ForgedSecretWithACachedKeysId_Is401()
    {
        var check = fixture.Check();
        using var real = fixture.Relay.CreateClient(fixture.ClientKey);
        using (var ok = await real.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            await check.RecordAsync(ok, admitted: true);
        }

        // Same rk_live_<keyid>_ prefix, a different well-formed secret (CVE-2026-35030: a cache keyed on a prefix).
        var forged = fixture.ClientKey[..^4] + (fixture.ClientKey.EndsWith("zzzz", StringComparison.Ordinal) ? "yyyy" : "zzzz");
        using var attacker = fixture.Relay.CreateClient(forged);
        using var refused = await attacker.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        await check.RecordAsync(refused, admitted: false);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Single(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData("/healthz", 200)]
    [InlineData("/readyz", 200)]
    [InlineData("/metrics", 404)]
    [InlineData("/swagger", 404)]
    [InlineData("/swagger/index.html", 404)]
    [InlineData("/admin/keys", 401)]
    [InlineData("/admin/usage", 401)]
    public async Task A10_OperationalPaths_WithoutAdminCredentials_ShowNothing(string path, int expected)
    {
        var check = fixture.Check();
        foreach (var token in new string?[] { null, RelayServer.ClientToken, fixture.ClientKey })
        {
            using var client = fixture.Relay.CreateClient(token);
            using var response = await client.GetAsync(new Uri(fixture.Relay.BaseAddress, path)).DefaultTimeout();
            var body = await check.RecordAsync(response, admitted: false);
            Assert.Equal(expected, (int)response.StatusCode);
            Assert.DoesNotContain("relay.db", body, StringComparison.Ordinal);
            Assert.DoesNotContain(fixture.Fake.BaseAddress.Authority, body, StringComparison.Ordinal);
        }

        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task A13_FailedAuthsFromOneAddress_Are429ForThatAddressOnly()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Limits:FailedAuthPerMinute"] = "5",
            // The test's requests come from 127.0.0.1, which is trusted to name the client in X-Forwarded-For.
            ["Relay:Listen:TrustedProxies"] = "127.0.0.1",
        });
        var before = fixture.Fake.Requests.Count;
        for (var i = 0; i < 5; i++)
        {
            using var refused = await SendAsync(relay, "203.0.113.7", "wrong-token-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var throttled = await SendAsync(relay, "203.0.113.7", "wrong-token-6"))
        {
            await AssertThrottledAsync(throttled);
        }

        // Sources are locked out, not keys: while throttled, the address is refused before its token is looked at.
        using (var validButThrottled = await SendAsync(relay, "203.0.113.7", RelayServer.ClientToken))
        {
            await AssertThrottledAsync(validButThrottled);
        }

        // Another client is unaffected, both with a valid token and with its own allowance of failures.
        using (var other = await SendAsync(relay, "198.51.100.9", RelayServer.ClientToken))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        using (var otherWrong = await SendAsync(relay, "198.51.100.9", "wrong-token"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, otherWrong.StatusCode);
        }

        Assert.Single(fixture.Fake.Requests.Skip(before));
        Secrets.AssertAbsent(relay.Logs.AllText, "logs");
        Assert.DoesNotContain(relay.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.0/8")]
    public async Task A13_ForwardedForFromAnUntrustedPeer_CannotEscapeTheThrottle(string trustedProxies)
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Limits:FailedAuthPerMinute"] = "3",
            ["Relay:Listen:TrustedProxies"] = trustedProxies,
        });
        for (var i = 0; i < 3; i++)
        {
            using var refused = await SendAsync(relay, "192.0.2." + (i + 1), "wrong-token");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // 127.0.0.1 is not a trusted proxy, so the header is ignored: all four came from 127.0.0.1.
        using var throttled = await SendAsync(relay, "192.0.2.99", "wrong-token");
        await AssertThrottledAsync(throttled);
    }

    [Fact]
    public async Task A13_ThrottleOff_NeverAnswers429()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Limits:FailedAuthPerMinute"] = "0",
        });
        for (var i = 0; i < 30; i++)
        {
            using var refused = await SendAsync(relay, null, "wrong-token");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(RelayServer relay, string? forwardedFor, string token)
    {
        using var client = relay.CreateClient(token);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return await client.SendAsync(request).DefaultTimeout();
    }

    private static async Task AssertThrottledAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Secrets.AssertAbsent(body, "a 429 response");
    }
}

using System.Net;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class CredentialSwapTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Fact]
    public async Task UpstreamGetsTheServerKey_NeverTheClientTokenOrAccountHeaders()
    {
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models?limit=5");
        request.Headers.Add("OpenAI-Organization", "org-victim");
        request.Headers.Add("OpenAI-Project", "proj-victim");
        request.Headers.Add("OpenAI-Beta", "assistants=v2");
        request.Headers.Add("X-Stainless-Lang", "csharp");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("Forwarded", "host=evil.example");
        request.Headers.Add("X-Original-URL", "/admin");
        request.Headers.Add("Cookie", "session=relay-domain-cookie");
        request.Headers.Add("api-key", RelayServer.ClientToken);
        request.Headers.Add("x-test-id", "swap-1");

        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var seen = await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == "swap-1", TaskTimeouts.Default);
        Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, seen.Headers["Authorization"]);
        Assert.Equal("?limit=5", seen.QueryString);
        Assert.Equal("assistants=v2", seen.Headers["OpenAI-Beta"]);
        Assert.Equal("csharp", seen.Headers["X-Stainless-Lang"]);
        foreach (var stripped in new[] { "OpenAI-Organization", "OpenAI-Project", "X-Forwarded-Host", "Forwarded", "X-Original-URL", "Cookie", "api-key", "X-Forwarded-For" })
        {
            Assert.False(seen.Headers.ContainsKey(stripped), $"{stripped} reached the upstream");
        }

        Assert.Equal(fixture.Fake.BaseAddress.Authority, seen.Headers["Host"]);
        Secrets.AssertAbsent(string.Join('\n', seen.Headers.Where(h => h.Key != "Authorization").Select(h => h.Key + ": " + h.Value)), "upstream request headers");
        Assert.DoesNotContain(RelayServer.ClientToken, string.Join('\n', seen.Headers.Values), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfiguredOrganizationAndProject_AreSentUpstream()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Upstream:Organization"] = "org-operator",
            ["Relay:Upstream:Project"] = "proj_operator",
        });
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Add("OpenAI-Organization", "org-victim");
        request.Headers.Add("x-test-id", "swap-org");
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == "swap-org", TaskTimeouts.Default);
        Assert.Equal("org-operator", seen.Headers["OpenAI-Organization"]);
        Assert.Equal("proj_operator", seen.Headers["OpenAI-Project"]);
    }

    [Fact]
    public async Task UpstreamRejectsTheServerKey_ClientGets502WithoutAnyPartOfTheKey()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), upstreamKey: "sk-canary-WRONG-upstream-key-123456");
        using var client = relay.CreateClient();
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("upstream_auth_failed", body, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-", body, StringComparison.Ordinal);
        Assert.DoesNotContain("3456", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamAccountHeadersAndCookies_DoNotReachTheClient()
    {
        fixture.Fake.Faults.Enqueue(new FakeOpenAi.FakeFault
        {
            PathPrefix = "/v1/models",
            Headers = new Dictionary<string, string> { ["Set-Cookie"] = "__cf_bm=upstream-edge-cookie; path=/" },
        });
        using var client = fixture.Relay.CreateClient();
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.False(response.Headers.Contains("openai-organization"));
        Assert.False(response.Headers.Contains("openai-project"));
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.True(response.Headers.Contains("x-request-id"));
        Assert.True(response.Headers.Contains("openai-processing-ms"));
        Assert.True(response.Headers.Contains("x-ratelimit-remaining-requests"));
    }
}

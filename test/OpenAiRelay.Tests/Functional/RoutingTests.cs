using System.Net;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class RoutingTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Theory]
    [InlineData("", "/v1/chat/completions")]
    [InlineData("/", "/v1/chat/completions")]
    [InlineData("/v1", "/v1/chat/completions")]
    [InlineData("/v1/", "/v1/chat/completions")]
    [InlineData("/api/v1", "/api/v1/chat/completions")]
    public async Task BaseUrlWithOrWithoutPath_LandsOnTheRightUpstreamPath(string basePath, string expectedPath)
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString().TrimEnd('/') + basePath);
        using var client = relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions?trace=1")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        var seen = await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(expectedPath, seen.Path);
        Assert.Equal("?trace=1", seen.QueryString);
        Assert.Equal("POST", seen.Method);
    }

    [Theory]
    [InlineData("GET", "v1/some/endpoint/that-does-not-exist-yet?x=1&include[]=a")]
    [InlineData("DELETE", "v1/files/file-abc")]
    [InlineData("POST", "v1/responses/resp_1/cancel")]
    [InlineData("PATCH", "v1/new-verb-endpoint")]
    [InlineData("PUT", "v1/new-verb-endpoint")]
    public async Task AnyMethodAndPathUnderV1_PassesThrough(string method, string path)
    {
        using var client = fixture.Relay.CreateClient();
        using var direct = fixture.CreateDirectClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        using var directResponse = await direct.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)).DefaultTimeout();

        var seen = await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(method, seen.Method);
        Assert.Equal("/" + path.Split('?')[0], seen.Path);
        Assert.Equal(directResponse.StatusCode, response.StatusCode);
        Assert.Equal(await directResponse.Content.ReadAsStringAsync(), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/chat/completions")]
    [InlineData("/v2/models")]
    [InlineData("/v1x/models")]
    [InlineData("/admin/keys")]
    [InlineData("/v1/../admin")]
    public async Task PathsOutsideV1_Get404JsonAndNeverReachUpstream(string path)
    {
        using var client = fixture.Relay.CreateClient();
        var before = fixture.Fake.Requests.Count;
        using var response = await client.GetAsync(new Uri(fixture.Relay.BaseAddress, path)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(before, fixture.Fake.Requests.Count);
    }

    [Fact]
    public async Task HealthEndpoints_AnswerWithoutAuthAndWithoutSecrets()
    {
        using var client = fixture.Relay.CreateClient(token: null);
        using var live = await client.GetAsync(new Uri("healthz", UriKind.Relative)).DefaultTimeout();
        using var ready = await client.GetAsync(new Uri("readyz", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Secrets.AssertAbsent(await live.Content.ReadAsStringAsync() + await ready.Content.ReadAsStringAsync(), "health endpoints");
    }

    [Fact]
    public async Task UpstreamErrors_PassThroughWithStatusBodyAndRetryHeaders()
    {
        using var client = fixture.Relay.CreateClient();
        using var direct = fixture.CreateDirectClient();
        HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-fake-status", "429");
            request.Headers.Add("x-fake-error-code", "rate_limit_exceeded");
            request.Headers.Add("x-fake-retry-after", "7");
            request.Headers.Add("x-fake-should-retry", "true");
            return request;
        }

        using var viaRelay = await client.SendAsync(Request()).DefaultTimeout();
        using var viaDirect = await direct.SendAsync(Request()).DefaultTimeout();
        Assert.Equal((HttpStatusCode)429, viaRelay.StatusCode);
        Assert.Equal("7", viaRelay.Headers.GetValues("retry-after").Single());
        Assert.Equal("true", viaRelay.Headers.GetValues("x-should-retry").Single());
        Assert.True(viaRelay.Headers.Contains("x-request-id"));
        Assert.True(viaRelay.Headers.Contains("x-ratelimit-reset-requests"));
        Assert.Equal(await viaDirect.Content.ReadAsStringAsync(), await viaRelay.Content.ReadAsStringAsync());
    }
}

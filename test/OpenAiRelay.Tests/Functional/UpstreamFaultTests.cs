using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class UpstreamFaultTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    private static StringContent Chat(bool stream = false) => new(
        stream
            ? """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"""
            : """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""",
        Encoding.UTF8,
        "application/json");

    [Fact]
    public async Task UpstreamDown_Gets502JsonWithoutSecrets()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        await using var relay = await RelayServer.StartAsync($"http://127.0.0.1:{deadPort}/v1");
        using var client = relay.CreateClient();
        using var response = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), Chat()).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("upstream_unavailable", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain(deadPort.ToString(System.Globalization.CultureInfo.InvariantCulture), body, StringComparison.Ordinal);
        Secrets.AssertAbsent(body, "a 502 body");
        Secrets.AssertAbsent(relay.Logs.AllText, "the logs");
    }

    [Fact]
    public async Task UpstreamSilentPastTheIdleTimeout_Gets504AndTheUpstreamCallIsCancelled()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Timeouts:GenerationIdle"] = "00:00:01",
        });
        using var client = relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Chat() };
        request.Headers.Add("x-fake-delay-ms", "30000");
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("upstream_timeout", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TimeSpan.FromSeconds(5));
        Assert.True(seen.Aborted);
    }

    [Fact]
    public async Task SlowNonStreamingAnswer_WithinTheIdleTimeout_Succeeds()
    {
        // The same mechanism as a reasoning model thinking for minutes, scaled down: 3 s of silence, 6 s allowed.
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Timeouts:GenerationIdle"] = "00:00:06",
            ["Relay:Timeouts:DefaultIdle"] = "00:00:01",
        });
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Chat() };
        request.Headers.Add("x-fake-delay-ms", "3000");
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("chat.completion", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamResetsMidStream_ClientConnectionIsAbortedNotCleanlyEnded()
    {
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Chat(stream: true) };
        request.Headers.Add("x-fake-reset-after", "2");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Assert.ThrowsAnyAsync<IOException>(() => SseReader.ReadEventsAsync(response.Content.ReadAsStream()).DefaultTimeout());
    }

    [Fact]
    public async Task UpstreamStallsMidStream_IdleTimeoutAbortsClientAndCancelsUpstream()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Timeouts:GenerationIdle"] = "00:00:01",
        });
        using var client = relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Chat(stream: true) };
        request.Headers.Add("x-fake-stall-after", "2");
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        await Assert.ThrowsAnyAsync<IOException>(() => SseReader.ReadEventsAsync(response.Content.ReadAsStream()).DefaultTimeout());
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TimeSpan.FromSeconds(5));
        Assert.True(seen.Aborted);
    }

    [Fact]
    public async Task UpstreamRedirect_IsNotFollowed()
    {
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Add("x-fake-redirect", "http://127.0.0.1:1/steal");
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
    }
}

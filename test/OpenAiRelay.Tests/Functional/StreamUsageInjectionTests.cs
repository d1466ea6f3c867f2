using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>
/// A streaming chat client that did not ask for usage: the relay asks the upstream for it (exact metering) and hides
/// the extra chunk and the <c>"usage":null</c> fields, so the client sees the stream it would have seen directly.
/// </summary>
public sealed class StreamUsageInjectionTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Theory]
    [InlineData("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{ "model": "gpt-4o-mini", "stream": true, "stream_options": {}, "messages": [ {"role":"user","content":"héllo ✓"} ] }  """)]
    public async Task ClientThatDidNotAskForUsage_GetsTheStreamWithoutIt_WhileTheUpstreamWasAsked(string json)
    {
        using var client = fixture.Relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        request.Headers.Add("x-fake-events", "4");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var received = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);

        var upstreamBody = JsonDocument.Parse(seen.Body!).RootElement;
        Assert.True(upstreamBody.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("gpt-4o-mini", upstreamBody.GetProperty("model").GetString());

        var sent = Encoding.UTF8.GetString(seen.ResponseBody!);
        Assert.Contains("\"usage\":{", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("\"usage\"", received, StringComparison.Ordinal);
        Assert.Equal(WithoutUsage(sent), received);
        Assert.EndsWith("data: [DONE]\n\n", received, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientThatAskedForUsage_GetsTheUpstreamStreamUntouched()
    {
        using var client = fixture.Relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        var json = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        var received = await response.Content.ReadAsByteArrayAsync();
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(Encoding.UTF8.GetBytes(json), seen.Body);
        Assert.Equal(seen.ResponseBody, received);
    }

    [Fact]
    public async Task NonStreamingAndOtherEndpoints_AreForwardedUnchanged()
    {
        using var client = fixture.Relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        var json = """{"model":"gpt-4o-mini","stream":true,"input":"hi"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        var received = await response.Content.ReadAsByteArrayAsync();
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(Encoding.UTF8.GetBytes(json), seen.Body);
        Assert.Equal(seen.ResponseBody, received);
    }

    [Fact]
    public async Task MeteringOff_ForwardsTheRequestUntouchedAndWritesNoLedgerRow()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Metering:Enabled"] = "false" });
        using var client = relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        var json = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        var received = await response.Content.ReadAsByteArrayAsync();
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(Encoding.UTF8.GetBytes(json), seen.Body);
        Assert.Equal(seen.ResponseBody, received);
        await Task.Delay(200);
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<OpenAiRelay.Storage.UsageStore>(relay.Services);
        Assert.Null(await store.GetAsync(response.Headers.GetValues("x-relay-request-id").Single(), CancellationToken.None));
    }

    /// <summary>The test's own model of the trimming: drop the empty-choices usage event, cut <c>,"usage":null</c>.</summary>
    private static string WithoutUsage(string stream)
    {
        var events = stream.Split("\n\n", StringSplitOptions.None)
            .Where(e => !(e.Contains("\"choices\":[]", StringComparison.Ordinal) && e.Contains("\"usage\":{", StringComparison.Ordinal)))
            .Select(e => e.Replace(",\"usage\":null", string.Empty, StringComparison.Ordinal).Replace("\"usage\":null,", string.Empty, StringComparison.Ordinal));
        return string.Join("\n\n", events);
    }
}

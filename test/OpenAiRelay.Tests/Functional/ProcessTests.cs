using System.Net;
using System.Text;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>The published relay as a separate process, configured only by the deployment guide's variables.</summary>
public sealed class ProcessTests
{
    [Fact]
    public async Task MissingApiKey_ExitsNonZeroWithOneLineNamingTheVariable()
    {
        await using var relay = await PublishedRelay.StartAsync(new Dictionary<string, string> { ["RELAY_TOKEN"] = "t", ["PORT"] = RelayProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var exitCode = await relay.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, exitCode);
        await Task.Delay(200);
        var line = Assert.Single(relay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("OPENAI_API_KEY", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfiguredByEnvironmentOnly_ServesTheGuidesCurlChecks()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });
        var port = RelayProcess.FreePort();
        await using var relay = await PublishedRelay.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = " " + RelayServer.UpstreamKeyCanary + " ",
            ["RELAY_TOKEN"] = RelayServer.ClientToken,
            ["OPENAI_BASE_URL"] = fake.BaseAddress.ToString(),
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await relay.WaitUntilHealthyAsync(port);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        using var models = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        using var chat = await client.PostAsync(
            new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"2+2?"}],"temperature":0}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Contains("chat.completion", await chat.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var anonymous = new HttpClient();
        using var rejected = await anonymous.GetAsync(new Uri($"http://127.0.0.1:{port}/v1/models")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);

        relay.Terminate();
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("/v1/chat/completions", relay.Output, StringComparison.Ordinal);
        Secrets.AssertAbsent(relay.Output, "the relay's console output");
    }

    [Fact]
    public async Task Sigterm_LetsInFlightStreamsFinishThenExitsZero()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });
        var port = RelayProcess.FreePort();
        await using var relay = await PublishedRelay.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary,
            ["RELAY_TOKEN"] = RelayServer.ClientToken,
            ["OPENAI_BASE_URL"] = fake.BaseAddress + "v1",
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Relay__ShutdownTimeout"] = "00:00:20",
        });
        await relay.WaitUntilHealthyAsync(port);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"long"}]}""", Encoding.UTF8, "application/json"),
        };
        // 4 s of stream after SIGTERM: longer than any default grace (System.CommandLine's own is 2 s).
        request.Headers.Add("x-fake-events", "45");
        request.Headers.Add("x-fake-event-interval-ms", "100");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var stream = await response.Content.ReadAsStreamAsync();
        var reading = SseReader.ReadEventsAsync(stream);
        await Task.Delay(300);

        relay.Terminate();
        List<SseReader.TimedEvent> events;
        try
        {
            events = await reading.DefaultTimeout();
        }
        catch (HttpIOException e)
        {
            await relay.WaitForExitAsync(TimeSpan.FromSeconds(30));
            throw new InvalidOperationException("stream cut at shutdown; relay output:\n" + relay.Output, e);
        }

        Assert.Equal("data: [DONE]", events[^1].Text);
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}

using System.Diagnostics;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// <c>openai-relay check --through URL</c> in front of the published relay in Debian's nginx over TLS: the shipped
/// site and the old guide's bare vhost pass streams as they come; a site that buffers them (X-Accel-Buffering
/// ignored) or compresses them (gzip on text/event-stream) fails the check, as an SDK's stream would suffer.
/// </summary>
public sealed class CheckThroughNginxTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>, IDisposable
{
    private readonly TempDataDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task TheShippedSite_PassesStreamsUnbufferedAndUncompressed()
    {
        var result = await CheckThroughAsync(stack.HttpsBase());

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ok", Status(result.Output, "front"));
        Assert.Contains("certificate valid", Detail(result.Output, "front"));
        Assert.Equal("ok", Status(result.Output, "front streaming"));
        Assert.Contains("streams pass unbuffered", Detail(result.Output, "front streaming"));
    }

    [Fact]
    public async Task TheGuidesBareVhost_AlsoPasses()
    {
        var bare = await stack.StartNginxAsync("nginx-check-bare", bareProxyPass: true);

        var result = await CheckThroughAsync(stack.HttpsBase(bare));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ok", Status(result.Output, "front streaming"));
    }

    [Fact]
    public async Task ASiteThatBuffers_Fails()
    {
        var buffering = await stack.StartNginxAsync("nginx-check-buffering", bareProxyPass: false, site => Edit(site, "proxy_buffering off;", "proxy_buffering on;\n        proxy_ignore_headers X-Accel-Buffering;"));

        var result = await CheckThroughAsync(stack.HttpsBase(buffering));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("ok", Status(result.Output, "front"));
        Assert.Equal("fail", Status(result.Output, "front streaming"));
        Assert.StartsWith("buffered:", Detail(result.Output, "front streaming"));
    }

    [Fact]
    public async Task ASiteThatCompressesStreams_Fails()
    {
        var gzip = await stack.StartNginxAsync("nginx-check-gzip", bareProxyPass: false, site => Edit(site, "gzip off;", "gzip on;\n        gzip_types text/event-stream;\n        gzip_min_length 1;"));

        var result = await CheckThroughAsync(stack.HttpsBase(gzip));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("fail", Status(result.Output, "front streaming"));
        Assert.Contains("arrived compressed (gzip)", Detail(result.Output, "front streaming"));
    }

    [Fact]
    public async Task AnUntrustedCertificate_FailsTheFront()
    {
        // The default handler validates against the system's roots, which do not hold the test CA.
        var result = await CheckCommandTests.RunAsync(Settings(), frontHandler: () => new SocketsHttpHandler
        {
            ConnectCallback = stack.CreateHandler().ConnectCallback,
        }, "--through", stack.HttpsBase().ToString(), "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("fail", Status(result.Output, "front"));
        Assert.Contains("the TLS certificate is not valid", Detail(result.Output, "front"));
    }

    [Fact]
    public async Task TheProbe_SendsEventsAQuarterSecondApart()
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{stack.RelayPort}/") };
        var arrivals = new List<TimeSpan>();
        using var response = await client.GetAsync("/healthz/stream", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        var started = Stopwatch.GetTimestamp();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var lines = new List<string>();
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
                arrivals.Add(Stopwatch.GetElapsedTime(started));
            }
        }

        Assert.Equal(["data: {\"probe\":0}", "data: {\"probe\":1}", "data: {\"probe\":2}", "data: {\"probe\":3}", "data: {\"probe\":4}", "data: [DONE]"], lines);
        Assert.True(arrivals[4] - arrivals[0] >= TimeSpan.FromMilliseconds(900), $"events arrived over {(arrivals[4] - arrivals[0]).TotalMilliseconds} ms");
    }

    private Task<(int ExitCode, string Output)> CheckThroughAsync(Uri through)
        => CheckCommandTests.RunAsync(Settings(), frontHandler: () => stack.CreateHandler(), "--through", through.ToString(), "--json");

    private (string Key, string? Value)[] Settings() =>
    [
        ("Relay:Upstream:ApiKey", RelayServer.UpstreamKeyCanary),
        ("Relay:Upstream:BaseUrl", stack.Fake.BaseAddress.ToString()),
        ("Relay:Tokens", RelayServer.ClientToken),
        ("Relay:Storage:DataDirectory", _data.Path),
    ];

    private static string Edit(string site, string from, string to)
    {
        Assert.Contains(from, site);
        return site.Replace(from, to, StringComparison.Ordinal);
    }

    private static string? Status(string json, string name) => Find(json, name).GetProperty("status").GetString();

    private static string Detail(string json, string name) => Find(json, name).GetProperty("detail").GetString()!;

    private static JsonElement Find(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The old Russian deployment guide's nginx vhost (a bare <c>proxy_pass http://127.0.0.1:3001</c>, test/nginx/guide-vhost.conf,
/// copied verbatim) in front of this relay: the guide's own two checks (its curl of /v1/models and its chat completion)
/// pass, and a stream arrives event by event; the same checks pass through the shipped site. An operator who replaces
/// the old relay and keeps the old vhost loses nothing; the shipped site is what docs/deploy.md recommends.
/// </summary>
public sealed class GuideVhostTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    private static readonly string s_guideVhost = Path.Combine(RepositoryPaths.Root, "test/nginx/guide-vhost.conf");

    [Fact]
    public async Task TheGuidesVhost_PassesTheGuidesChecks_AndStreamsUnbuffered()
    {
        var site = await File.ReadAllTextAsync(s_guideVhost);
        Assert.Equal(1, Count(site, "proxy_pass http://127.0.0.1:3001;"));
        NginxServer? nginx = null;
        for (var attempt = 1; nginx is null; attempt++)
        {
            var port = RelayProcess.FreePort();
            var rendered = site
                .Replace("proxy_pass http://127.0.0.1:3001;", $"proxy_pass http://127.0.0.1:{stack.RelayPort.ToString(CultureInfo.InvariantCulture)};", StringComparison.Ordinal)
                .Replace("  server_name openai-relay.mch.expert;", $"  listen 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)};\n  server_name openai-relay.mch.expert;", StringComparison.Ordinal);
            try
            {
                nginx = await NginxServer.StartAsync(Path.Combine(Path.GetTempPath(), "openai-relay-guide-vhost-" + Guid.NewGuid().ToString("N")), rendered, port, port);
            }
            catch (Xunit.Sdk.XunitException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }

        await using (nginx)
        {
            using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{nginx.HttpPort.ToString(CultureInfo.InvariantCulture)}/"),
                Timeout = TimeSpan.FromSeconds(60),
            };
            client.DefaultRequestHeaders.Host = "openai-relay.mch.expert";
            await TheGuidesChecksAsync(client);
            await StreamArrivesEventByEventAsync(client);
        }
    }

    [Fact]
    public async Task TheShippedSite_PassesTheGuidesChecks()
    {
        using var client = stack.CreateClient(token: null);
        await TheGuidesChecksAsync(client);
        await StreamArrivesEventByEventAsync(client);
    }

    /// <summary>Step 7 of the guide: its curl of /v1/models and its chat completion, with the relay token.</summary>
    private static async Task TheGuidesChecksAsync(HttpClient client)
    {
        using (var models = new HttpRequestMessage(HttpMethod.Get, "v1/models"))
        {
            models.Headers.Add("Authorization", "Bearer " + RelayServer.ClientToken);
            using var response = await client.SendAsync(models).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var list = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("list", list.RootElement.GetProperty("object").GetString());
            Assert.NotEqual(0, list.RootElement.GetProperty("data").GetArrayLength());
        }

        using (var chat = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions"))
        {
            chat.Headers.Add("Authorization", "Bearer " + RelayServer.ClientToken);
            chat.Content = new StringContent("""
                {
                    "model":"gpt-4o-mini",
                    "messages":[{"role":"user","content":"Привет! Сколько будет 2+2?"}],
                    "temperature":0
                  }
                """, Encoding.UTF8, "application/json");
            using var response = await client.SendAsync(chat).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var completion = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("chat.completion", completion.RootElement.GetProperty("object").GetString());
            Assert.Equal("assistant", completion.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
        }

        using var anonymous = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    /// <summary>Five events 300 ms apart must arrive spread over the stream, not in one piece at its end.</summary>
    private static async Task StreamArrivesEventByEventAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count."}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Authorization", "Bearer " + RelayServer.ClientToken);
        request.Headers.Add("x-fake-events", "5");
        request.Headers.Add("x-fake-event-interval-ms", "300");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var clock = Stopwatch.StartNew();
        var arrivals = new List<TimeSpan>();
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.StartsWith("data: {", StringComparison.Ordinal))
            {
                arrivals.Add(clock.Elapsed);
            }
        }

        Assert.True(arrivals.Count >= 5, $"{arrivals.Count} events");
        // Buffered, every event would arrive within a few milliseconds of the last.
        Assert.True(arrivals[^1] - arrivals[0] > TimeSpan.FromMilliseconds(800), $"events arrived over {(arrivals[^1] - arrivals[0]).TotalMilliseconds} ms");
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, string.Empty, StringComparison.Ordinal).Length) / what.Length;
}

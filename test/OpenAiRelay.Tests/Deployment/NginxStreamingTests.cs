using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>Streams through the shipped nginx site: SSE pacing, a client that leaves, Realtime WebSockets.</summary>
public sealed class NginxStreamingTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    private static HttpRequestMessage ChatStream(int events, int intervalMs, string? testId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count to 20."}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-events", events.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("x-fake-event-interval-ms", intervalMs.ToString(CultureInfo.InvariantCulture));
        if (testId is not null)
        {
            request.Headers.Add("x-test-id", testId);
        }

        return request;
    }

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task ChatStream_ArrivesEventByEvent_AtTheUpstreamsPace(string httpVersion)
    {
        const int Events = 6;
        const int IntervalMs = 300;
        using var client = stack.CreateClient(version: Version.Parse(httpVersion));
        using var request = ChatStream(Events, IntervalMs);
        request.Version = Version.Parse(httpVersion);
        request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        // The wrapper nginx.conf gzips text/event-stream for the server; the site's `gzip off` must keep it out.
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Version.Parse(httpVersion), response.Version);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        var events = await SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout();

        var deltas = events.Where(e => e.Text.Contains("\"content\"", StringComparison.Ordinal)).ToList();
        Assert.True(deltas.Count >= Events, $"expected {Events} content events, got {deltas.Count}");
        // Buffering (proxy_buffering on, or gzip) delivers everything in one burst at the end: gaps near zero.
        var gaps = deltas.Zip(deltas.Skip(1), (a, b) => (b.ArrivedAt - a.ArrivedAt).TotalMilliseconds).ToList();
        var shown = string.Join(", ", gaps.Select(g => g.ToString("F0", CultureInfo.InvariantCulture)));
        // One short gap is tolerated (a reader stalled on the busy machine gets two events at once); a burst makes them all short.
        Assert.True(gaps.Count(g => g >= IntervalMs * 0.5) >= gaps.Count - 1, "events did not arrive at the upstream's pace; gaps (ms): " + shown);
        Assert.True((deltas[^1].ArrivedAt - deltas[0].ArrivedAt).TotalMilliseconds >= (Events - 1) * IntervalMs * 0.6, "events did not arrive at the upstream's pace; gaps (ms): " + shown);
        Assert.Equal("data: [DONE]", events[^1].Text);
    }

    [Fact]
    public async Task ClientLeavesMidStream_UpstreamCallIsCancelledWithinTwoSeconds()
    {
        var id = Guid.NewGuid().ToString("N");
        var client = stack.CreateClient();
        using var request = ChatStream(events: 200, intervalMs: 100, id);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var stream = await response.Content.ReadAsStreamAsync();
        Assert.True(await stream.ReadAsync(new byte[256]).DefaultTimeout() > 0);

        var left = DateTimeOffset.UtcNow;
        response.Dispose();
        client.Dispose();

        var seen = await stack.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TimeSpan.FromSeconds(5));
        Assert.True(seen.Aborted, "the upstream call was not cancelled: " + seen);
        Assert.True(seen.EndedAt!.Value - left < TimeSpan.FromSeconds(2), $"the upstream call ended {(seen.EndedAt.Value - left).TotalMilliseconds:F0} ms after the client left");
    }

    [Fact]
    public async Task RealtimeWebSocket_UpgradesOverWss_AndExchangesFrames()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + RelayServer.ClientToken);
        socket.Options.AddSubProtocol("realtime");
        using var invoker = new HttpMessageInvoker(stack.CreateHandler());
        var uri = new Uri($"wss://{NginxRelayStack.HostName}:{stack.Nginx.HttpsPort}/v1/realtime?model=gpt-realtime-nginx");
        await socket.ConnectAsync(uri, invoker, CancellationToken.None).DefaultTimeout();
        Assert.Equal("realtime", socket.SubProtocol);

        Assert.Equal("session.created", (await ReceiveJsonAsync(socket)).GetProperty("type").GetString());
        await socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"response.create","event_id":"evt_nginx"}"""), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        var clock = Stopwatch.StartNew();
        JsonElement message;
        do
        {
            message = await ReceiveJsonAsync(socket);
        }
        while (message.GetProperty("type").GetString() != "response.done" && clock.Elapsed < TaskTimeouts.Default);

        Assert.Equal("response.done", message.GetProperty("type").GetString());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();

        var seen = await stack.Fake.WaitForEndAsync(r => r.QueryString == "?model=gpt-realtime-nginx", TaskTimeouts.Default);
        Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, seen.Headers["Authorization"]);
        Assert.Contains(seen.WebSocketMessages, m => m.Contains("evt_nginx", StringComparison.Ordinal));
    }

    private static async Task<JsonElement> ReceiveJsonAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }
}

using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class WebSocketTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    private Uri RealtimeUri(string path = "v1/realtime?model=gpt-realtime")
        => new(new Uri(fixture.Relay.BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal)), path);

    [Fact]
    public async Task Realtime_ServerClientWithHeaderAuth_ExchangesFramesAndGetsUsage()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + RelayServer.ClientToken);
        socket.Options.AddSubProtocol("realtime");
        await socket.ConnectAsync(RealtimeUri(), CancellationToken.None).DefaultTimeout();
        Assert.Equal("realtime", socket.SubProtocol);

        var created = await socket.ReceiveJsonAsync();
        Assert.Equal("session.created", created.GetProperty("type").GetString());

        await SendAsync(socket, """{"type":"response.create","event_id":"evt_1"}""");
        JsonElement done;
        do
        {
            done = await socket.ReceiveJsonAsync();
        }
        while (done.GetProperty("type").GetString() != "response.done");

        Assert.True(done.GetProperty("response").GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();

        var seen = await fixture.Fake.WaitForRequestAsync(r => r.QueryString == "?model=gpt-realtime", TaskTimeouts.Default);
        Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, seen.Headers["Authorization"]);
        Assert.Equal("?model=gpt-realtime", seen.QueryString);
    }

    [Fact]
    public async Task Realtime_BrowserClientWithSubprotocolToken_IsAcceptedAndTheTokenNeverReachesUpstream()
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("realtime");
        socket.Options.AddSubProtocol("openai-insecure-api-key." + RelayServer.SecondClientToken);
        socket.Options.AddSubProtocol("openai-beta.realtime-v1");
        await socket.ConnectAsync(RealtimeUri("v1/realtime?model=browser-test"), CancellationToken.None).DefaultTimeout();
        Assert.Equal("realtime", socket.SubProtocol);
        Assert.Equal("session.created", (await socket.ReceiveJsonAsync()).GetProperty("type").GetString());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();

        var seen = await fixture.Fake.WaitForRequestAsync(r => r.QueryString == "?model=browser-test", TaskTimeouts.Default);
        Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, seen.Headers["Authorization"]);
        Assert.DoesNotContain("openai-insecure-api-key", seen.Headers.GetValueOrDefault("Sec-WebSocket-Protocol") ?? string.Empty, StringComparison.Ordinal);
        Secrets.AssertAbsent(string.Join('\n', seen.Headers.Where(h => h.Key != "Authorization").Select(h => h.Value)), "upstream handshake");
    }

    [Fact]
    public async Task Realtime_WrongToken_IsRejectedBeforeTheUpgrade()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer nope");
        socket.Options.CollectHttpResponseDetails = true;
        var before = fixture.Fake.Requests.Count;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(RealtimeUri(), CancellationToken.None).DefaultTimeout());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, socket.HttpStatusCode);
        Assert.Equal(before, fixture.Fake.Requests.Count);
    }

    [Fact]
    public async Task ClientClosesRealtime_UpstreamSocketEnds()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + RelayServer.ClientToken);
        socket.Options.AddSubProtocol("realtime");
        await socket.ConnectAsync(RealtimeUri("v1/realtime?model=abort-test"), CancellationToken.None).DefaultTimeout();
        await socket.ReceiveJsonAsync();
        socket.Abort();
        var seen = await fixture.Fake.WaitForEndAsync(r => r.QueryString == "?model=abort-test", TimeSpan.FromSeconds(3));
        Assert.NotNull(seen.EndedAt);
    }

    private static Task SendAsync(ClientWebSocket socket, string json)
        => socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).DefaultTimeout();

}

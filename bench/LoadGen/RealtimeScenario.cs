using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace OpenAiRelay.LoadGen;

/// <summary>
/// One Realtime WebSocket (<c>GET /v1/realtime</c>): sends <c>response.create</c> and times the round trip until
/// <c>response.done</c>, one message at a time. The fake answers with a one-piece text response and no pacing, so
/// the round trip is the transport (and proxy) cost plus the fake's few frames.
/// </summary>
internal static class RealtimeScenario
{
    private static readonly byte[] s_create = Encoding.UTF8.GetBytes("""{"type":"response.create"}""");
    private static readonly byte[] s_done = Encoding.UTF8.GetBytes("\"type\":\"response.done\"");

    public static async Task<Metrics> RunAsync(Target target, string prefix, int messages, int warmup)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", target.Authorization);
        socket.Options.SetRequestHeader("x-fake-events", "1");
        socket.Options.SetRequestHeader("x-fake-event-interval-ms", "0");
        var uri = new UriBuilder(target.Url("v1/realtime?model=gpt-realtime")) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(uri, bound.Token);

        var buffer = new byte[64 * 1024];
        await ReceiveMessageAsync(socket, buffer, bound.Token); // session.created
        var rtts = new List<double>(messages);
        for (var i = 0; i < warmup + messages; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            await socket.SendAsync(s_create, WebSocketMessageType.Text, endOfMessage: true, bound.Token);
            while (true)
            {
                var length = await ReceiveMessageAsync(socket, buffer, bound.Token);
                if (buffer.AsSpan(0, length).IndexOf(s_done) >= 0)
                {
                    break;
                }
            }

            if (i >= warmup)
            {
                rtts.Add(Stats.Milliseconds(Stopwatch.GetTimestamp() - t0));
            }
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bench done", bound.Token);
        return new Metrics
        {
            [prefix + ".messages"] = rtts.Count,
            [prefix + ".mean_ms"] = rtts.Average(),
            [prefix + ".p50_ms"] = Stats.Percentile(rtts, 50),
            [prefix + ".p99_ms"] = Stats.Percentile(rtts, 99),
        };
    }

    private static async Task<int> ReceiveMessageAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException("The server closed the Realtime socket.");
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return length;
            }

            if (length == buffer.Length)
            {
                // Longer than any frame the fake sends; keep only the tail, where response.done's type is not.
                length = 0;
            }
        }
    }
}

using System.Net;
using System.Text;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// Traffic that touches every family of series the shipped dashboard and alerts read: two chats, a stream (time to
/// first token, streams in flight), a refusal (a wrong token) and an upstream that resets the connection (an upstream
/// error, a 5xx). Five requests in all, each asserted as it should have gone.
/// </summary>
public static class KnownTraffic
{
    public const int Requests = 5;

    /// <summary>A relay in front of <paramref name="fake"/> serving /metrics on a port of its own, without a token.</summary>
    public static Task<RelayServer> StartRelayAsync(FakeOpenAiServer fake, int metricsPort) =>
        RelayServer.StartAsync(
            fake.BaseAddress.ToString().TrimEnd('/'),
            new Dictionary<string, string?> { ["Relay:Metrics:Port"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public static async Task SendAsync(RelayServer relay, FakeOpenAiServer fake)
    {
        using var client = relay.CreateClient(RelayServer.ClientToken);
        for (var i = 0; i < 2; i++)
        {
            using var chat = await client.SendAsync(Chat(stream: false)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        }

        using (var streamed = await client.SendAsync(Chat(stream: true)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            await streamed.Content.ReadAsStringAsync().DefaultTimeout();
        }

        using (var wrong = relay.CreateClient("rt-not-a-token"))
        using (var refused = await wrong.SendAsync(Chat(stream: false)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        fake.Faults.Enqueue(new FakeFault { PathPrefix = "/v1/chat", ResetAfterEvents = 0 });
        using (var reset = await client.SendAsync(Chat(stream: false)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.BadGateway, reset.StatusCode);
        }
    }

    private static HttpRequestMessage Chat(bool stream) => new(HttpMethod.Post, "v1/chat/completions")
    {
        Content = new StringContent(
            $$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hello"}]}""",
            Encoding.UTF8,
            "application/json"),
    };
}

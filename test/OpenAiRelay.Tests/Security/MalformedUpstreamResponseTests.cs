using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>Responses no client should see as they came: a 502 <c>upstream_error</c>, ledgered as the upstream's failure.</summary>
public sealed class MalformedUpstreamResponseTests
{
    [Theory]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n0123456789")]
    public async Task AMalformedAnswerToAPlainPost_Is502UpstreamError_AndLedgeredSo(string raw)
    {
        using var upstream = new ScriptedUpstream(raw);
        await using var relay = await RelayServer.StartAsync(upstream.Url);
        using var client = relay.CreateClient();
        using var response = await client.PostAsync(
            new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("server_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("type").GetString());
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();
        var store = relay.Services.GetRequiredService<UsageStore>();
        UsageRecord? row = null;
        for (var i = 0; i < 100 && row is not { Outcome: not UsageOutcome.InFlight }; i++)
        {
            await Task.Delay(50);
            row = await store.GetAsync(requestId, CancellationToken.None);
        }

        Assert.Equal(UsageOutcome.UpstreamError, row!.Outcome);
        Assert.Equal(502, row.Status);
    }
}

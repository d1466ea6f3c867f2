using System.Text;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class RequestLogTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Fact]
    public async Task EachRequest_WritesOneStructuredLineWithoutSecrets()
    {
        using var client = fixture.Relay.CreateClient(RelayServer.SecondClientToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions?secret=" + RelayServer.ClientToken)
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsByteArrayAsync();
        var upstreamId = response.Headers.GetValues("x-request-id").Single();
        var relayId = response.Headers.GetValues("x-relay-request-id").Single();
        await Task.Delay(200);

        var line = Assert.Single(fixture.Relay.Logs.Entries, e => e.EventId.Name == "RequestRelayed" && e.Values.GetValueOrDefault("UpstreamRequestId") == upstreamId);
        Assert.Equal("POST", line.Values["Method"]);
        Assert.Equal("/v1/chat/completions", line.Values["Path"]);
        Assert.Equal("200", line.Values["StatusCode"]);
        Assert.Equal("relay-token-2", line.Values["Client"]);
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), line.Values["BytesOut"]);
        Assert.True(long.Parse(line.Values["BytesIn"]!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("Completed", line.Values["Outcome"]);
        Assert.Equal("127.0.0.1", line.Values["ClientAddress"]);
        Assert.False(string.IsNullOrEmpty(line.Values["ConnectionId"]));
        Assert.False(string.IsNullOrEmpty(relayId));

        using var bad = fixture.Relay.CreateClient("wrong");
        using var _ = await bad.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        await Task.Delay(100);
        Secrets.AssertAbsent(fixture.Relay.Logs.AllText, "the logs");
    }
}

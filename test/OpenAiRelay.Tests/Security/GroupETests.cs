using System.Net;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group E: upstream faults. E1, E4-E7 and E10 are proven by UpstreamFaultTests, RoutingTests,
/// CredentialSwapTests and LedgerExactnessTests (docs/threat-model.md).
/// </summary>
public sealed class GroupETests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    private const string Chat = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}""";

    [Theory]
    [InlineData("http://upstream.invalid")]
    [InlineData("https://127.0.0.1:{fake}")]
    public async Task E2_E3_UnresolvableOrTlsBrokenUpstream_Is502JsonWithoutSecrets(string baseUrl)
    {
        // E2: the reserved .invalid TLD never resolves. E3: TLS to a port that speaks plain HTTP fails the handshake.
        await using var relay = await RelayServer.StartAsync(baseUrl.Replace("{fake}", fixture.Fake.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var check = fixture.Check(relay);
        using var client = relay.CreateClient();
        using var response = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), new StringContent(Chat, Encoding.UTF8, "application/json")).DefaultTimeout();
        var body = await check.RecordAsync(response, admitted: true);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal("upstream_unavailable", error.GetProperty("code").GetString());
        Assert.DoesNotContain("invalid", body, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", body, StringComparison.Ordinal);
        Assert.Empty(check.UpstreamRequests);
        var row = await Invariants.SettledAsync(relay.Services.GetRequiredService<UsageStore>(), response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(UsageOutcome.UpstreamError, row.Outcome);
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task E8_Upstream5xxAfterTheWholeBody_IsPassedThroughOnceAndRecordedOnce(int status)
    {
        var check = fixture.Check();
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-fake-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request).DefaultTimeout();
        await check.RecordAsync(response, admitted: true, fromUpstream: true);

        Assert.Equal(status, (int)response.StatusCode);
        var seen = Assert.Single(check.UpstreamRequests);
        var ended = await fixture.Fake.WaitForEndAsync(r => r.ReceivedAt == seen.ReceivedAt, TaskTimeouts.Default);
        Assert.Equal(Encoding.UTF8.GetByteCount(Chat), ended.BodyLength);
        var row = await Invariants.SettledAsync(fixture.Relay.Services.GetRequiredService<UsageStore>(), response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(status, row.Status);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task E9_UpstreamResponseHeadersOver64KB_Is502JsonNoCrash()
    {
        var check = fixture.Check();
        fixture.Fake.Faults.Enqueue(new FakeFault
        {
            PathPrefix = "/v1/models",
            Headers = new Dictionary<string, string> { ["x-huge-1"] = new('h', 40 * 1024), ["x-huge-2"] = new('h', 40 * 1024) },
        });
        using var client = fixture.Relay.CreateClient();
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        var body = await check.RecordAsync(response, admitted: true);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("server_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.DoesNotContain("hhhh", body, StringComparison.Ordinal);
        Assert.Single(check.UpstreamRequests);
        await check.AssertAllAsync();
    }
}

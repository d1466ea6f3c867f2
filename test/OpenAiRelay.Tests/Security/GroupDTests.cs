using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group D: body semantics and metering. D3, D4 and D9 are proven by StreamUsageInjectionTests
/// and LedgerExactnessTests; D6 and D7 (budgets) do not apply yet (docs/threat-model.md).
/// </summary>
public sealed class GroupDTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    public static TheoryData<string> HostileBodies => new()
    {
        "invalid",
        "top-level-array",
        "deep-10000",
        "deep-stream-without-usage",
        "duplicate-stream-options",
        "duplicate-keys-deep",
        "lone-surrogates",
        "big-string-20mb",
        "nul-and-controls",
    };

    private static string Body(string shape) => shape switch
    {
        "invalid" => """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}""",
        "top-level-array" => """[{"model":"gpt-4o-mini","stream":true}]""",
        "deep-10000" => """{"model":"gpt-4o-mini","stream":true,"messages":""" + new string('[', 10_000) + new string(']', 10_000) + "}",
        "deep-stream-without-usage" => """{"model":"gpt-4o-mini","stream":true,"stream_options":{},"tools":""" + new string('[', 70) + new string(']', 70) + "}",
        "duplicate-stream-options" => """{"model":"gpt-4o-mini","stream":true,"stream_options":{},"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}""",
        "duplicate-keys-deep" => """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false},"metadata":{"a":1,"a":2},"messages":[{"role":"user","content":"hi"}]}""",
        "lone-surrogates" => """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"\ud800 \udfff \ud800\ud800"}]}""",
        "big-string-20mb" => """{"model":"gpt-4o-mini","messages":[{"role":"user","content":" """ + new string('x', 20 * 1024 * 1024) + "\"}]}",
        "nul-and-controls" => """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\u0000b\u001b[31m"}]}""",
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    [Theory]
    [MemberData(nameof(HostileBodies))]
    public async Task D2_HostileJsonBody_IsForwardedUntouchedOrRefused_NeverA500(string shape)
    {
        var check = fixture.Check();
        var json = Body(shape);
        using var client = fixture.Relay.CreateClient(fixture.ClientKey);
        using var response = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json")).DefaultTimeout();
        // Once forwarded, the status is the upstream's (the fake itself answers 500 to a lone surrogate), except the
        // relay's own 502/504. The relay's own answers are never 500.
        var fromUpstream = check.UpstreamRequests.Count == 1 && (int)response.StatusCode is not (502 or 504);
        Assert.True(fromUpstream || response.StatusCode != HttpStatusCode.InternalServerError, "relay 500:\n" + fixture.Relay.Logs.AllText);
        await check.RecordAsync(response, admitted: true, fromUpstream);

        var seen = Assert.Single(check.UpstreamRequests);
        var ended = await fixture.Fake.WaitForEndAsync(r => r.ReceivedAt == seen.ReceivedAt && r.Path == seen.Path, TaskTimeouts.Default);
        if (ended.Body is { } forwarded && !Encoding.UTF8.GetString(forwarded).Contains("include_usage\":true", StringComparison.Ordinal))
        {
            // Whatever the relay could not read with certainty, it did not rewrite.
            Assert.Equal(json, Encoding.UTF8.GetString(forwarded));
        }

        await check.AssertAllAsync();
        var row = await Invariants.SettledAsync(fixture.Relay.Services.GetRequiredService<UsageStore>(), response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(fixture.ClientKey[..18], row.KeyLabel);
    }

    [Fact]
    public async Task D8_UpstreamSendsTruncatedJson_PassedThroughAndLedgeredAsAnEstimate()
    {
        var check = fixture.Check();
        using var client = fixture.Relay.CreateClient(fixture.ClientKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"tell me about relays"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-truncate", "true");
        request.Headers.Add("x-test-id", "d8");
        using var response = await client.SendAsync(request).DefaultTimeout();
        var received = await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
        await check.RecordAsync(response, admitted: true, fromUpstream: true);

        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == "d8", TaskTimeouts.Default);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(seen.ResponseBody, received);
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => System.Text.Json.JsonDocument.Parse(received));

        await check.AssertAllAsync();
        var row = await Invariants.SettledAsync(fixture.Relay.Services.GetRequiredService<UsageStore>(), response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(OpenAiRelay.Storage.UsageOutcome.Completed, row.Outcome);
        Assert.True(row.Estimated, "a response without a readable usage object must be estimated, never a silent zero");
        Assert.True(row.InputTokens > 0);
    }
}

using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group D: body semantics and metering. D3 (that the injection keeps every other field) is here; that it works, D4 and D9 are proven by StreamUsageInjectionTests
/// and LedgerExactnessTests; D6 and D7 (budgets) do not apply yet (docs/threat-model.md).
/// </summary>
public sealed class GroupDTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    /// <summary>Each hostile body, and whether the relay may rewrite it (inject stream usage) or must forward it as sent.</summary>
    public static TheoryData<string, bool> HostileBodies => new()
    {
        { "invalid", false },
        { "top-level-array", false },
        { "deep-10000", false },
        // Deeper than the relay reads (64): what it cannot read to the end it does not touch.
        { "deep-stream-without-usage", false },
        // Ambiguous: which stream_options would the upstream take?
        { "duplicate-stream-options", false },
        // The duplicate is inside a member the relay does not touch: it is carried as sent, both keys in order.
        { "duplicate-keys-deep", true },
        // Readable to the end (the surrogates are in a value the relay skips): usage is spliced in, the rest kept.
        { "lone-surrogates", true },
        { "big-string-20mb", false },
        { "nul-and-controls", false },
    };

    /// <summary>Streaming bodies the relay rewrites, each rich in what a careless rewrite would lose or change.</summary>
    public static TheoryData<string> RewrittenBodies => new()
    {
        """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"caf\u00e9 \"q\" \\ \n é 😀"}],"temperature":0.70,"max_tokens":1e3,"seed":-0,"n":1,"logit_bias":{"50256":-100},"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],"user":null,"metadata":{"a":"b"}}""",
        """{"model":"gpt-4o-mini","stream":true,"stream_options":{},"messages":[{"role":"user","content":"hi"}],"top_p":1.0}""",
        """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false},"messages":[{"role":"user","content":"\u2028 \ud83d\ude00 <tag> &amp;"}],"stop":["\n\n"]}""",
        "{ \"model\" : \"gpt-4o-mini\" ,\n  \"stream\" : true ,\n  \"messages\" : [ { \"role\" : \"user\" , \"content\" : \"spaced\" } ]\n}\n",
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
    public async Task D2_HostileJsonBody_IsForwardedUntouchedOrRefused_NeverA500(string shape, bool rewritable)
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
        if (rewritable)
        {
            AssertUsageInjectedAndEverythingElseKept(json, Assert.IsType<byte[]>(ended.Body));
        }
        else
        {
            // Whatever the relay could not read with certainty, it did not rewrite: every byte as sent (by hash, since
            // the fake keeps only the first MiB of a body).
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(json))), ended.BodySha256);
        }

        await check.AssertAllAsync();
        var row = await Invariants.SettledAsync(fixture.Relay.Services.GetRequiredService<UsageStore>(), response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(fixture.ClientKey[..18], row.KeyLabel);
    }

    [Theory]
    [MemberData(nameof(RewrittenBodies))]
    public async Task D3_UsageInjection_KeepsEveryOtherFieldAsSent(string json)
    {
        using var client = fixture.Relay.CreateClient(fixture.ClientKey);
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync().DefaultTimeout();

        var ended = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        AssertUsageInjectedAndEverythingElseKept(json, Assert.IsType<byte[]>(ended.Body));
    }

    /// <summary>
    /// The forwarded body asks for usage, and apart from that is the sent body: every other member, in order, with its
    /// value (strings compared decoded, numbers by their exact text), and every other member of <c>stream_options</c>.
    /// </summary>
    private static void AssertUsageInjectedAndEverythingElseKept(string sent, byte[] forwarded)
    {
        using var before = System.Text.Json.JsonDocument.Parse(sent);
        using var after = System.Text.Json.JsonDocument.Parse(forwarded);
        var options = after.RootElement.GetProperty("stream_options");
        Assert.True(options.GetProperty("include_usage").GetBoolean(), "usage was not asked for");
        Assert.Equal(JsonCanonical.Members(before.RootElement, except: "stream_options"), JsonCanonical.Members(after.RootElement, except: "stream_options"));
        var sentOptions = before.RootElement.TryGetProperty("stream_options", out var o) ? JsonCanonical.Members(o, except: "include_usage") : [];
        Assert.Equal(sentOptions, JsonCanonical.Members(options, except: "include_usage"));
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

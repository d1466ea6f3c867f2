using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Tests.Security;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>
/// One classification of a path (a variant is refused, or it is metered exactly as the upstream sees it), audio
/// priced by its duration, and usage numbers treated as untrusted input: whatever the upstream reports, the row is
/// settled, sane and flagged when it could not be read, and the request log line is written.
/// </summary>
public sealed class PathAndUsageValidationTests : IAsyncLifetime
{
    private const string Chat = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}""";

    private AccountingHarness _h = null!;

    public async Task InitializeAsync() => _h = await AccountingHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Theory]
    [InlineData("/v1//chat/completions")]
    [InlineData("/v1/chat//completions")]
    [InlineData("/v1/chat/completions/")]
    [InlineData("/v1/chat/completions;x=1")]
    [InlineData("/v1/chat;v=2/completions")]
    public async Task PathVariant_IsRefusedBeforeTheUpstream(string target)
    {
        var before = _h.Fake.Requests.Count;
        var response = await RawHttp.SendAsync(
            _h.Relay.BaseAddress,
            $"POST {target} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nContent-Type: application/json\r\nContent-Length: {Chat.Length}\r\nConnection: close\r\n\r\n{Chat}");

        Assert.StartsWith("HTTP/1.1 400", response, StringComparison.Ordinal);
        Assert.Contains("\"error\"", response, StringComparison.Ordinal);
        await Task.Delay(100);
        Assert.Equal(before, _h.Fake.Requests.Count);
    }

    [Theory]
    [InlineData("/V1/chat/completions")]
    [InlineData("/v1/%63hat/completions")]
    [InlineData("/v1/Chat/Completions")]
    public async Task PathSpelling_IsMeteredAsTheGenerationTheUpstreamSees(string target)
    {
        var id = Guid.NewGuid().ToString("N");
        var response = await RawHttp.SendAsync(
            _h.Relay.BaseAddress,
            $"POST {target} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nx-test-id: {id}\r\nContent-Type: application/json\r\nContent-Length: {Chat.Length}\r\nConnection: close\r\n\r\n{Chat}");
        var seen = await _h.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        var requestId = response.Split("\r\n").Single(l => l.StartsWith("x-relay-request-id:", StringComparison.OrdinalIgnoreCase)).Split(':')[1].Trim();

        // The upstream saw the same generation endpoint the relay classified (case aside), and the relay asked it for
        // an uncompressed body because it meters it.
        Assert.Equal("/v1/chat/completions", seen.Path.ToLowerInvariant());
        Assert.Equal("identity", seen.Headers.GetValueOrDefault("Accept-Encoding"));
        var row = await _h.SettledAsync(requestId);
        Assert.Equal("/chat/completions", row.Endpoint);
        if (seen.StatusCode == 200)
        {
            Assert.False(row.Estimated);
            Assert.True(row.InputTokens > 0);
        }
        else
        {
            // A case-sensitive upstream (OpenAI, the fake) answers 404: nothing was generated, nothing is billed.
            Assert.Equal(UsageOutcome.UpstreamError, row.Outcome);
        }
    }

    [Fact]
    public async Task Whisper_IsPricedByDuration()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("whisper-1"), "model" },
            { new ByteArrayContent(new byte[4000]) { Headers = { ContentType = new MediaTypeHeaderValue("audio/wav") } }, "file", "a.wav" },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/audio/transcriptions") { Content = form };
        request.Headers.Add("x-fake-audio-seconds", "90");
        using var response = await _h.Client.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains("\"duration\"", body, StringComparison.Ordinal);

        var row = await _h.SettledAsync(response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal("whisper-1", row.Model);
        Assert.Equal(90_000, row.AudioMs);
        Assert.False(row.Estimated);
        // $0.006 per minute, 1.5 minutes: $0.009.
        Assert.Equal(9_000, row.CostMicros);
    }

    private int RequestLogLines() => _h.Relay.Logs.Entries.Count(e => e.EventId.Name == "RequestRelayed");

    public static TheoryData<string, string?> OddUsages => new()
    {
        { """{"prompt_tokens":10,"completion_tokens":9223372036854775807,"total_tokens":1}""", null },
        { """{"prompt_tokens":5000000000000000000,"completion_tokens":5000000000000000000,"total_tokens":1}""", null },
        { """{"prompt_tokens":-5000000,"completion_tokens":2,"total_tokens":1}""", null },
        { """{"prompt_tokens":10,"completion_tokens":1000000000000000,"total_tokens":1}""", null },
        { """{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":1000000}}""", null },
        { """{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"completion_tokens_details":{"reasoning_tokens":6}}""", null },
        { """{"prompt_tokens":1000.0,"completion_tokens":2e3,"total_tokens":1}""", null },
        { """{"prompt_tokens":"1000","completion_tokens":2,"total_tokens":1}""", null },
        { """{"prompt_tokens":99999999999999999999999,"completion_tokens":2,"total_tokens":1}""", null },
        { """{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}""", """{"prompt_tokens":1000,"completion_tokens":2000,"total_tokens":3000}""" },
    };

    [Theory]
    [MemberData(nameof(OddUsages))]
    public async Task OddUsage_RowIsSettledSaneAndFlagged(string usage, string? duplicate)
    {
        foreach (var stream in new[] { false, true })
        {
            var logLines = RequestLogLines();
            var json = stream
                ? """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there"}]}"""
                : Chat;
            var x = await _h.SendAsync(HttpMethod.Post, "v1/chat/completions", json, r =>
            {
                r.Headers.TryAddWithoutValidation("x-fake-usage", usage);
                if (duplicate is not null)
                {
                    r.Headers.TryAddWithoutValidation("x-fake-duplicate-usage", duplicate);
                }
            });

            Assert.Equal(200, x.Status);
            var row = await _h.SettledAsync(x.RequestId);
            Assert.Equal(UsageOutcome.Completed, row.Outcome);
            Assert.True(row.Estimated, $"{usage} (stream {stream}) was taken as exact");
            Assert.InRange(row.InputTokens, 1, 1_000_000);
            Assert.InRange(row.OutputTokens, 0, 1_000_000);
            Assert.InRange(row.CachedTokens, 0, row.InputTokens);
            Assert.InRange(row.ReasoningTokens, 0, row.OutputTokens);
            Assert.NotNull(row.CostMicros);
            Assert.InRange(row.CostMicros!.Value, 0, 1_000_000);
            Assert.Equal(logLines + 1, RequestLogLines());
        }

        // The report still adds up.
        var summary = await _h.Relay.Services.GetRequiredService<UsageStore>().SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Total), CancellationToken.None);
        Assert.InRange(summary.Single().InputTokens, 0, 10_000_000);
    }
}

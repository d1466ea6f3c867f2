using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>
/// Whatever encoding a client accepts, a metered response is read exactly: the relay asks the upstream for identity
/// on every request whose body it reads (the fake compresses as OpenAI does whenever it is allowed to), so the
/// ledger holds the upstream's own usage and the client gets the same JSON or events, unencoded. Requests the relay
/// does not read keep the client's Accept-Encoding.
/// </summary>
public sealed class CompressedResponseTests : IAsyncLifetime
{
    private AccountingHarness _h = null!;

    public async Task InitializeAsync() => _h = await AccountingHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    public static TheoryData<string, string, string, string, string> Cases()
    {
        string[] encodings = ["gzip", "deflate", "br", "zstd", "*", "gzip;q=1.0, br;q=0.9, identity;q=0", "gzip, deflate"];
        (string Path, string Body, string Input, string Output)[] families =
        [
            ("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens"),
            ("v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens"),
            ("v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens"),
            ("v1/responses", """{"model":"gpt-4o-mini","input":"hello"}""", "input_tokens", "output_tokens"),
            ("v1/responses", """{"model":"gpt-4o-mini","stream":true,"input":"hello"}""", "input_tokens", "output_tokens"),
            ("v1/embeddings", """{"model":"text-embedding-3-small","input":["a","b c"]}""", "prompt_tokens", "-"),
        ];
        var data = new TheoryData<string, string, string, string, string>();
        foreach (var encoding in encodings)
        {
            foreach (var (path, body, input, output) in families)
            {
                data.Add(encoding, path, body, input, output);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AnyAcceptEncoding_LedgerHoldsTheUpstreamsExactUsage(string acceptEncoding, string path, string json, string inputField, string outputField)
    {
        var x = await _h.SendAsync(HttpMethod.Post, path, json, r => r.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding));

        Assert.Equal(200, x.Status);
        Assert.Equal("identity", x.Upstream.Headers.GetValueOrDefault("Accept-Encoding"));
        Assert.Empty(x.ContentEncoding);
        var sent = x.UpstreamBodyText;
        var record = await _h.SettledAsync(x.RequestId);
        Assert.Equal(UsageOutcome.Completed, record.Outcome);
        Assert.False(record.Estimated);
        Assert.Equal(AccountingHarness.UsageNumber(sent, inputField), record.InputTokens);
        if (outputField != "-")
        {
            Assert.Equal(AccountingHarness.UsageNumber(sent, outputField), record.OutputTokens);
            Assert.True(record.OutputTokens > 0);
        }

        // The client got the body in a form it can read without a decoder: the same usage the ledger holds (unless
        // the relay asked for the usage chunk itself, which the client then does not see).
        var injected = json.Contains("\"stream\":true", StringComparison.Ordinal) && !json.Contains("include_usage", StringComparison.Ordinal) && path.Contains("chat", StringComparison.Ordinal);
        Assert.True(injected || x.BodyText.Replace(" ", string.Empty, StringComparison.Ordinal).Contains($"\"{inputField}\":{record.InputTokens}", StringComparison.Ordinal), x.BodyText);
        Assert.True(!injected || !x.BodyText.Contains("\"usage\":{", StringComparison.Ordinal), x.BodyText);
        Assert.DoesNotContain("\u001f\u008b", x.BodyText, StringComparison.Ordinal); // no gzip magic: the body is plain
    }

    [Fact]
    public async Task UnmeteredRequest_KeepsTheClientsAcceptEncoding()
    {
        var x = await _h.SendAsync(HttpMethod.Get, "v1/models", configure: r => r.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip"));

        Assert.Equal(200, x.Status);
        Assert.Equal("gzip", x.Upstream.Headers.GetValueOrDefault("Accept-Encoding"));
        var record = await _h.SettledAsync(x.RequestId);
        Assert.Equal(0, record.InputTokens);
        Assert.False(record.Estimated);
    }
}

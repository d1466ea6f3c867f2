using System.Net.Http.Headers;
using System.Text;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>
/// Every request that reaches the upstream ends in exactly one ledger row, in a terminal state, with the upstream's
/// own usage numbers (or an estimate flagged as such), on SQLite and on a real PostgreSQL.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerExactnessTests(PostgresServer postgres) : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    public static TheoryData<string> Engines => StoreTarget.Engines;

    private async Task<(RelayServer Relay, StoreTarget Store)> StartAsync(string engine)
    {
        var store = await StoreTarget.CreateAsync(engine, postgres);
        var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), store.Settings);
        return (relay, store);
    }

    private static async Task<UsageRecord> SettledAsync(RelayServer relay, string requestId)
    {
        var store = relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await store.GetAsync(requestId, CancellationToken.None) is { Outcome: not UsageOutcome.InFlight } record)
            {
                return record;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no settled ledger row for {requestId}");
        return null!;
    }

    private static long UsageNumber(string json, string name)
    {
        var marker = "\"" + name + "\":";
        var at = json.LastIndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var end = at;
        while (end < json.Length && char.IsAsciiDigit(json[end]))
        {
            end++;
        }

        return long.Parse(json[at..end], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static TheoryData<string, string, string, string, string> Families => new()
    {
        // engine, path, body, input field, output field (as the upstream names them in its usage object)
        { StoreTarget.Sqlite, "v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens" },
        { StoreTarget.Sqlite, "v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens" },
        { StoreTarget.Sqlite, "v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""", "prompt_tokens", "completion_tokens" },
        { StoreTarget.Sqlite, "v1/responses", """{"model":"gpt-4o-mini","input":"hello"}""", "input_tokens", "output_tokens" },
        { StoreTarget.Sqlite, "v1/responses", """{"model":"gpt-4o-mini","stream":true,"input":"hello"}""", "input_tokens", "output_tokens" },
        { StoreTarget.Sqlite, "v1/completions", """{"model":"gpt-3.5-turbo-instruct","prompt":"hello"}""", "prompt_tokens", "completion_tokens" },
        { StoreTarget.Sqlite, "v1/embeddings", """{"model":"text-embedding-3-small","input":["a","b c"]}""", "prompt_tokens", "-" },
        { StoreTarget.Sqlite, "v1/images/generations", """{"model":"gpt-image-1","prompt":"a cat"}""", "input_tokens", "output_tokens" },
        { StoreTarget.Postgres, "v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello there"}]}""", "prompt_tokens", "completion_tokens" },
        { StoreTarget.Postgres, "v1/responses", """{"model":"gpt-4o-mini","stream":true,"input":"hello"}""", "input_tokens", "output_tokens" },
        { StoreTarget.Postgres, "v1/embeddings", """{"model":"text-embedding-3-small","input":"abc"}""", "prompt_tokens", "-" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public async Task MeteredFamily_LedgerHoldsTheUpstreamsOwnUsage(string engine, string path, string json, string inputField, string outputField)
    {
        var (relay, store) = await StartAsync(engine);
        await using var _ = store;
        await using var __ = relay;
        using var client = relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync();
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();
        var seen = await _fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        var sent = Encoding.UTF8.GetString(seen.ResponseBody!);

        var record = await SettledAsync(relay, requestId);
        Assert.Equal(UsageOutcome.Completed, record.Outcome);
        Assert.False(record.Estimated);
        Assert.Equal(200, record.Status);
        Assert.Equal("/" + path[3..], record.Endpoint);
        Assert.Equal("relay-token", record.KeyLabel);
        Assert.Equal(UsageNumber(sent, inputField), record.InputTokens);
        Assert.True(record.InputTokens > 0);
        if (outputField != "-")
        {
            Assert.Equal(UsageNumber(sent, outputField), record.OutputTokens);
        }

        Assert.Equal(seen.Headers.ContainsKey("x-test-id") ? response.Headers.GetValues("x-request-id").Single() : null, record.UpstreamRequestId);
        Assert.NotNull(record.Model);
        Assert.True(record.BytesOut > 0);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ClientLeavesMidStream_RowIsCancelledWithAnEstimateNeverZero(string engine)
    {
        var (relay, store) = await StartAsync(engine);
        await using var _ = store;
        await using var __ = relay;
        var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"write a long story about relays"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-events", "100");
        request.Headers.Add("x-fake-event-interval-ms", "50");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        var got = 0;
        while (got < 1500)
        {
            got += await stream.ReadAsync(buffer).DefaultTimeout();
        }

        response.Dispose();
        client.Dispose();

        var record = await SettledAsync(relay, requestId);
        Assert.Equal(UsageOutcome.ClientCancelled, record.Outcome);
        Assert.True(record.Estimated);
        Assert.True(record.InputTokens > 0, "prompt estimate missing");
        Assert.True(record.OutputTokens > 0, "streamed output not estimated");
    }

    [Fact]
    public async Task UpstreamDiesMidStream_RowIsAnUpstreamErrorWithAnEstimate()
    {
        var (relay, store) = await StartAsync(StoreTarget.Sqlite);
        await using var _ = store;
        await using var __ = relay;
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-reset-after", "3");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => response.Content.ReadAsByteArrayAsync());

        var record = await SettledAsync(relay, requestId);
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.True(record.Estimated);
        Assert.True(record.InputTokens > 0);
    }

    [Fact]
    public async Task UpstreamRateLimit_IsRecordedOnceAndNotBilled()
    {
        var (relay, store) = await StartAsync(StoreTarget.Sqlite);
        await using var _ = store;
        await using var __ = relay;
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-status", "429");
        using var response = await client.SendAsync(request).DefaultTimeout();
        var record = await SettledAsync(relay, response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.Equal(429, record.Status);
        Assert.Equal(0, record.InputTokens + record.OutputTokens);
        Assert.False(record.Estimated);
    }

    [Fact]
    public async Task RejectedToken_LeavesNoRow_AndAdmittedRequestsLeaveExactlyOne()
    {
        var (relay, store) = await StartAsync(StoreTarget.Sqlite);
        await using var _ = store;
        await using var __ = relay;
        using var bad = relay.CreateClient("nope");
        using var rejected = await bad.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        using var good = relay.CreateClient();
        using var models = await good.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        var usage = relay.Services.GetRequiredService<UsageStore>();
        var record = await SettledAsync(relay, models.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal(UsageOutcome.Completed, record.Outcome);
        Assert.Null(await usage.GetAsync(rejected.Headers.GetValues("x-relay-request-id").Single(), CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task RealtimeSession_LedgerAddsUpEveryResponseDone(string engine)
    {
        var (relay, store) = await StartAsync(engine);
        await using var _ = store;
        await using var __ = relay;
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + RelayServer.ClientToken);
        socket.Options.AddSubProtocol("realtime");
        socket.Options.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
        socket.Options.CollectHttpResponseDetails = true;
        await socket.ConnectAsync(new Uri(relay.BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/realtime?model=gpt-realtime"), CancellationToken.None).DefaultTimeout();
        var requestId = socket.HttpResponseHeaders!["x-relay-request-id"].Single();

        long input = 0, output = 0;
        for (var i = 0; i < 2; i++)
        {
            await socket.SendAsync("""{"type":"response.create"}"""u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
            while (true)
            {
                var message = await ReceiveAsync(socket);
                using var doc = System.Text.Json.JsonDocument.Parse(message);
                if (doc.RootElement.GetProperty("type").GetString() == "response.done")
                {
                    var usage = doc.RootElement.GetProperty("response").GetProperty("usage");
                    input += usage.GetProperty("input_tokens").GetInt64();
                    output += usage.GetProperty("output_tokens").GetInt64();
                    break;
                }
            }
        }

        await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
        var record = await SettledAsync(relay, requestId);
        Assert.Equal(UsageOutcome.Completed, record.Outcome);
        Assert.False(record.Estimated);
        Assert.True(input > 0 && output > 0);
        Assert.Equal(input, record.InputTokens);
        Assert.Equal(output, record.OutputTokens);
        Assert.Equal("/realtime", record.Endpoint);
    }

    private static async Task<byte[]> ReceiveAsync(System.Net.WebSockets.ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        System.Net.WebSockets.WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return message.ToArray();
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task TranscriptionUpload_LedgerHasItsUsageAndTheModelFromTheForm(string engine)
    {
        var (relay, store) = await StartAsync(engine);
        await using var _ = store;
        await using var __ = relay;
        using var client = relay.CreateClient();
        using var content = new MultipartFormDataContent();
        using var audio = new ByteArrayContent(new byte[3 * 1024 * 1024]);
        audio.Headers.ContentType = new MediaTypeHeaderValue("audio/mpeg");
        content.Add(audio, "file", "speech.mp3");
        content.Add(new StringContent("gpt-4o-transcribe"), "model");
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/audio/transcriptions") { Content = content };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var seen = await _fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        var sent = Encoding.UTF8.GetString(seen.ResponseBody!);

        var record = await SettledAsync(relay, response.Headers.GetValues("x-relay-request-id").Single());
        Assert.Equal("gpt-4o-transcribe", record.Model);
        Assert.False(record.Estimated);
        Assert.Equal(UsageNumber(sent, "input_tokens"), record.InputTokens);
        Assert.Equal(UsageNumber(sent, "output_tokens"), record.OutputTokens);
        Assert.Equal(seen.BodyLength, record.BytesIn);
    }

    [Fact]
    public async Task SpeechWithoutUsage_IsEstimatedFromThePrompt()
    {
        var (relay, store) = await StartAsync(StoreTarget.Sqlite);
        await using var _ = store;
        await using var __ = relay;
        using var client = relay.CreateClient();
        using var response = await client.PostAsync(
            new Uri("v1/audio/speech", UriKind.Relative),
            new StringContent("""{"model":"gpt-4o-mini-tts","voice":"alloy","input":"The quick brown fox jumps over the lazy dog."}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync();
        var record = await SettledAsync(relay, response.Headers.GetValues("x-relay-request-id").Single());
        Assert.True(record.Estimated);
        Assert.True(record.InputTokens >= 9);
        Assert.Equal("gpt-4o-mini-tts", record.Model);
    }
}

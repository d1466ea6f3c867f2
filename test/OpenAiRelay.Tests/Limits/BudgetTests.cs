using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Limits;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Limits;

/// <summary>
/// Budgets, tpm and model allow-lists end to end: keys made through the admin API, a real client through a real relay
/// to the fake upstream (whose usage header sets exactly what each response cost), the ledger as the referee.
/// gpt-4o-mini costs 0.15 micro-dollars per input token and 0.60 per output token.
/// </summary>
public sealed class BudgetTests : IAsyncLifetime
{
    /// <summary>1,000 input and 1,000 output tokens of gpt-4o-mini: 150 + 600 = 750 micro-dollars.</summary>
    private const string ThousandEach = """{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}""";

    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() =>
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task FiftyConcurrentRequests_AgainstABudgetThatCoversFive_AdmitFive_AndTheRestNeverReachTheUpstream()
    {
        await using var relay = await StartAsync();
        // Each request reserves its prompt estimate plus max_tokens 100,000 at the output price: just over 60,000
        // micro-dollars, so $0.33 holds five reservations and not six.
        var (key, created) = await CreateKeyAsync(relay, new { name = "team-member", budget_usd = 0.33m });
        Assert.Equal("""{"budget_usd":0.33,"budget_period":"month"}""", created.GetProperty("policy").GetRawText());
        var test = Guid.NewGuid().ToString("N");

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var client = relay.CreateClient(key);
            using var request = Chat(test, maxTokens: 100_000, usage: ThousandEach, delayMs: 1_500);
            using var response = await client.SendAsync(request).DefaultTimeout();
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(), ShouldRetry: Header(response, "x-should-retry"));
        }));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(45, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            var error = JsonDocument.Parse(r.Body).RootElement.GetProperty("error");
            Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
            Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
            Assert.Equal("false", r.ShouldRetry);
        });
        Assert.Equal(5, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));

        // Settled to what the five really cost; the ledger agrees, and the freed reservations admit more.
        var limiter = relay.Services.GetRequiredService<KeyLimiter>();
        var policy = KeyPolicyJson.Parse(created.GetProperty("policy").GetRawText());
        await WaitUntilAsync(() => limiter.Spend(KeyId(key), policy) == (3_750L, 0L));
        await WaitForLedgerSpendAsync(relay, KeyId(key), 3_750);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test, maxTokens: 100_000, usage: ThousandEach)));
    }

    [Fact]
    public async Task ABudgetIsSpentDownToRefusal_TheOvershootIsOneResponsesExcess_AndARestartRemembersTheSpend()
    {
        var data = Path.Combine(Path.GetTempPath(), "openai-relay-test-" + Guid.NewGuid().ToString("N"));
        var test = Guid.NewGuid().ToString("N");
        // The first relay is stopped, not disposed (which would delete the data directory the second one reads).
        await using var relay = await StartAsync(new() { ["Relay:Storage:DataDirectory"] = data });
        string key;
        {
            // $0.002: each request reserves about 1 micro-dollar (max_tokens 1) and really costs 750.
            (key, _) = await CreateKeyAsync(relay, new { name = "small", budget_usd = 0.002m, budget_period = "day" });
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test, maxTokens: 1, usage: ThousandEach)));
            }

            // 2,250 spent of 2,000: the third response used more than it reserved, by at most its own cost.
            using var client = relay.CreateClient(key);
            using var refused = await client.SendAsync(Chat(test, maxTokens: 1, usage: ThousandEach)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var error = await ErrorAsync(refused);
            Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
            Assert.Contains($"resets at {DateTime.UtcNow.Date.AddDays(1):yyyy-MM-dd} 00:00 UTC", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.False(refused.Headers.Contains("Retry-After"));
            await WaitForLedgerSpendAsync(relay, KeyId(key), 2_250);
            await relay.StopAsync();
        }

        // A new process loads the day's spend from the ledger: still refused.
        await using (var restarted = await StartAsync(new() { ["Relay:Storage:DataDirectory"] = data }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(restarted, key, Chat(test, maxTokens: 1, usage: ThousandEach)));
            // Not generations: a budget does not hold them back.
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(restarted, key, Get("v1/models", test)));
            // Raised at once through the admin API: admitted again.
            await PatchAsync(restarted, "small", """{"budget_usd": 1}""", HttpStatusCode.OK);
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(restarted, key, Chat(test, maxTokens: 1, usage: ThousandEach)));

            using var admin = restarted.CreateClient(AdminToken);
            using var list = JsonDocument.Parse(await admin.GetStringAsync("admin/keys").DefaultTimeout());
            var spend = list.RootElement.GetProperty("data")[0].GetProperty("spend");
            Assert.Equal("day", spend.GetProperty("budget_period").GetString());
            Assert.Equal(1m, spend.GetProperty("budget_usd").GetDecimal());
            await WaitForLedgerSpendAsync(restarted, KeyId(key), 3_000);
        }

        Assert.Equal(4, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test && r.Path == "/v1/chat/completions"));
    }

    [Fact]
    public async Task Tpm_ReservesPromptAndOutputCap_SettlesToTheRealUsage_AndSaysSoInOpenAisHeaders()
    {
        await using var relay = await StartAsync();
        var (key, _) = await CreateKeyAsync(relay, new { name = "tokens", tpm = 1_000 });
        var test = Guid.NewGuid().ToString("N");
        using var client = relay.CreateClient(key);

        // 600 reserved while the first is in flight: a second of 600 does not fit.
        var slow = client.SendAsync(Chat(test, maxTokens: 590, usage: """{"prompt_tokens":50,"completion_tokens":50,"total_tokens":100}""", delayMs: 1_000));
        await WaitUntilAsync(() => _fake.Requests.Any(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        using (var refused = await client.SendAsync(Chat(test, maxTokens: 590)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var error = await ErrorAsync(refused);
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Equal("tokens", error.GetProperty("type").GetString());
            Assert.NotNull(Header(refused, "Retry-After"));
            Assert.Equal("1000", Header(refused, "x-ratelimit-limit-tokens"));
        }

        using (var first = await slow.DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal("1000", Header(first, "x-ratelimit-limit-tokens"));
            Assert.InRange(long.Parse(Header(first, "x-ratelimit-remaining-tokens")!, System.Globalization.CultureInfo.InvariantCulture), 390, 420);
        }

        // It used 100 of its 600: the rest came back, so the same request fits now.
        using (var second = await client.SendAsync(Chat(test, maxTokens: 590)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        // More than a minute's tokens can never run: refused without a retry.
        using var tooLarge = await client.SendAsync(Chat(test, maxTokens: 5_000)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, tooLarge.StatusCode);
        Assert.Equal("false", Header(tooLarge, "x-should-retry"));
        Assert.Equal(2, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Fact]
    public async Task Tpm_SettlesAStreamToItsUsageChunk_ReservesNoOutputForEmbeddings_AndRpmHoldsUploads()
    {
        await using var relay = await StartAsync();
        var (tokens, _) = await CreateKeyAsync(relay, new { name = "stream-tokens", tpm = 1_000 });
        var (uploads, _) = await CreateKeyAsync(relay, new { name = "uploads", rpm = 1 });
        var test = Guid.NewGuid().ToString("N");
        using var client = relay.CreateClient(tokens);

        // A stream reserves its cap (900) and settles to the usage chunk the relay asked for (60 tokens).
        var stream = Chat(test, maxTokens: 900, usage: """{"prompt_tokens":30,"completion_tokens":30,"total_tokens":60}""");
        stream.Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"max_tokens":900,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        using (var streamed = await client.SendAsync(stream).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            Assert.Contains("data: [DONE]", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.InRange(long.Parse(Header(streamed, "x-ratelimit-remaining-tokens")!, System.Globalization.CultureInfo.InvariantCulture), 0, 100);
        }

        // Embeddings produce no output: only the prompt estimate is reserved, so it fits beside nothing else.
        using (var embedded = await client.SendAsync(Post("v1/embeddings", """{"model":"text-embedding-3-small","input":"hello there"}""", test)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, embedded.StatusCode);
            Assert.InRange(long.Parse(Header(embedded, "x-ratelimit-remaining-tokens")!, System.Globalization.CultureInfo.InvariantCulture), 900, 1_000);
        }

        // rpm holds a form like any request: one a minute, the second refused before the upstream.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, uploads, Transcription(test, "whisper-1")));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, uploads, Transcription(test, "whisper-1")));
        Assert.Equal(3, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Fact]
    public async Task Models_AllowListIs403ForOtherModels_InJsonForms_AndWebSocketUrls()
    {
        await using var relay = await StartAsync();
        var (key, created) = await CreateKeyAsync(relay, new { name = "mini-only", models = new[] { "gpt-4o-mini*", "text-embedding-3-small" } });
        Assert.Equal("""{"models":["gpt-4o-mini*","text-embedding-3-small"]}""", created.GetProperty("policy").GetRawText());
        var test = Guid.NewGuid().ToString("N");

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test, model: "GPT-4o-mini-2024-07-18")));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Post("v1/embeddings", """{"model":"text-embedding-3-small","input":"x"}""", test)));
        // Not a generation: no model to check.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Get("v1/models", test)));

        using var client = relay.CreateClient(key);
        foreach (var request in new[] { Chat(test, model: "gpt-4o"), Post("v1/chat/completions", """{"messages":[]}""", test), Transcription(test, "whisper-1") })
        {
            using (request)
            using (var response = await client.SendAsync(request).DefaultTimeout())
            {
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.Equal("model_not_allowed", (await ErrorAsync(response)).GetProperty("code").GetString());
                Assert.Equal("false", Header(response, "x-should-retry"));
            }
        }

        // A form's model is read as it streams: the upload stops at the field, and the upstream never has a whole request.
        Assert.DoesNotContain(_fake.Requests, r => r.Headers.GetValueOrDefault("x-test-id") == test && r.Path == "/v1/audio/transcriptions" && r.StatusCode == 200);
        Assert.Equal(4, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test && r.StatusCode == 200));

        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + key);
        var url = new Uri(relay.BaseAddress.ToString().Replace("http", "ws", StringComparison.Ordinal) + "v1/realtime?model=gpt-realtime");
        var refusal = await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => socket.ConnectAsync(url, CancellationToken.None).DefaultTimeout());
        Assert.Contains("403", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnderABudget_AModelWithoutAPriceIsRefused_AndStrictModeNeedsAnOutputCap()
    {
        await using var relay = await StartAsync();
        var (budgeted, _) = await CreateKeyAsync(relay, new { name = "budgeted", budget_usd = 5 });
        var (strict, created) = await CreateKeyAsync(relay, new { name = "strict", budget_usd = 5, budget_mode = "strict" });
        Assert.Equal("""{"budget_usd":5,"budget_period":"month","budget_mode":"strict"}""", created.GetProperty("policy").GetRawText());
        var test = Guid.NewGuid().ToString("N");

        using (var client = relay.CreateClient(budgeted))
        using (var unpriced = await client.SendAsync(Chat(test, model: "my-fine-tune-without-a-price")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Forbidden, unpriced.StatusCode);
            var error = await ErrorAsync(unpriced);
            Assert.Equal("model_not_allowed", error.GetProperty("code").GetString());
            Assert.Contains("no price", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // Without a cap, the default reservation stands in; strict refuses it instead.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, budgeted, Chat(test)));
        using (var client = relay.CreateClient(strict))
        using (var uncapped = await client.SendAsync(Chat(test)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.BadRequest, uncapped.StatusCode);
            Assert.Equal("output_cap_required", (await ErrorAsync(uncapped)).GetProperty("code").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, strict, Chat(test, maxTokens: 100)));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, strict, Post("v1/embeddings", """{"model":"text-embedding-3-small","input":"x"}""", test)));
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(relay, strict, Transcription(test, "whisper-1")));
        Assert.Equal(3, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Fact]
    public async Task AFormUnderABudget_ReservesTheConfiguredAmount_AndSettlesToItsRealCost()
    {
        await using var relay = await StartAsync(new() { ["Relay:Limits:UnknownCostReservationUsd"] = "0.01" });
        var (key, created) = await CreateKeyAsync(relay, new { name = "audio", budget_usd = 0.015m });
        var test = Guid.NewGuid().ToString("N");
        var limiter = relay.Services.GetRequiredService<KeyLimiter>();
        var policy = KeyPolicyJson.Parse(created.GetProperty("policy").GetRawText());

        // 60 s of whisper-1 at $0.006 a minute: 6,000 micro-dollars against a reservation of 10,000.
        using var first = Transcription(test, "whisper-1");
        first.Headers.Add("x-fake-audio-seconds", "60");
        using (var client = relay.CreateClient(key))
        using (var response = await client.SendAsync(first).DefaultTimeout())
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        await WaitUntilAsync(() => limiter.Spend(KeyId(key), policy) == (6_000L, 0L));

        // 9,000 remain: a reservation of 10,000 does not fit.
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, key, Transcription(test, "whisper-1")));
    }

    [Fact]
    public async Task AWebSocketSession_IsChargedAtEachResponseDone_AndClosedWithAnErrorEventWhenTheBudgetIsSpent()
    {
        await using var relay = await StartAsync(new() { ["Relay:Limits:UnknownCostReservationUsd"] = "0.0001" });
        var (key, created) = await CreateKeyAsync(relay, new { name = "voice", budget_usd = 0.0005m });
        var policy = KeyPolicyJson.Parse(created.GetProperty("policy").GetRawText());
        var limiter = relay.Services.GetRequiredService<KeyLimiter>();

        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + key);
        socket.Options.AddSubProtocol("realtime");
        var url = new Uri(relay.BaseAddress.ToString().Replace("http", "ws", StringComparison.Ordinal) + "v1/realtime?model=gpt-realtime");
        await socket.ConnectAsync(url, CancellationToken.None).DefaultTimeout();

        var done = 0;
        JsonElement? error = null;
        for (var turn = 0; turn < 50 && error is null; turn++)
        {
            await socket.SendAsync("""{"type":"response.create"}"""u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
            while (true)
            {
                var message = await socket.ReceiveJsonAsync().DefaultTimeout();
                var type = message.GetProperty("type").GetString();
                if (type == "response.done")
                {
                    done++;
                    break;
                }

                if (type == "error")
                {
                    error = message.GetProperty("error");
                    break;
                }
            }
        }

        // The response that spent the budget reached the client whole; then the error event and a policy close.
        Assert.NotNull(error);
        Assert.Equal("insufficient_quota", error.Value.GetProperty("code").GetString());
        Assert.InRange(done, 1, 49);
        var buffer = new byte[1024];
        var close = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
        Assert.Equal(System.Net.WebSockets.WebSocketMessageType.Close, close.MessageType);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);

        // What the session charged as it went is what the ledger settled: once, not twice (each response is priced
        // on its own as it passes, the row on the session's sum, so roundings may differ by a micro-dollar each).
        await WaitUntilAsync(() => limiter.InFlight(KeyId(key)) == 0);
        var (spent, reserved) = limiter.Spend(KeyId(key), policy)!.Value;
        Assert.Equal(0, reserved);
        Assert.True(spent >= 400, $"spent {spent}");
        var store = relay.Services.GetRequiredService<UsageStore>();
        await WaitUntilAsync(() => store.SpentSinceAsync(KeyId(key), DateTimeOffset.UnixEpoch, CancellationToken.None).Result > 0);
        var ledger = await store.SpentSinceAsync(KeyId(key), DateTimeOffset.UnixEpoch, CancellationToken.None);
        Assert.InRange(spent - ledger, 0, done);

        // And the next session is refused at its handshake.
        using var next = new System.Net.WebSockets.ClientWebSocket();
        next.Options.SetRequestHeader("Authorization", "Bearer " + key);
        var refusal = await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => next.ConnectAsync(url, CancellationToken.None).DefaultTimeout());
        Assert.Contains("429", refusal.Message, StringComparison.Ordinal);
    }

    private async Task<RelayServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken };
        foreach (var (name, value) in settings ?? [])
        {
            values[name] = value;
        }

        return await RelayServer.StartAsync(_fake.BaseAddress.ToString(), values);
    }

    private static string KeyId(string key) => key[8..18];

    private static async Task WaitForLedgerSpendAsync(RelayServer relay, string keyId, long expected)
    {
        var store = relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        long spent;
        while ((spent = await store.SpentSinceAsync(keyId, DateTimeOffset.UnixEpoch, CancellationToken.None)) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"ledger spend {spent}, expected {expected}");
            await Task.Delay(50);
        }
    }

    private static HttpRequestMessage Chat(string test, string model = "gpt-4o-mini", long? maxTokens = null, string? usage = null, int? delayMs = null)
    {
        var cap = maxTokens is { } tokens ? $",\"max_tokens\":{tokens}" : string.Empty;
        var request = Post("v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]{{cap}}}""", test);
        if (usage is not null)
        {
            request.Headers.Add("x-fake-usage", usage);
        }

        if (delayMs is { } delay)
        {
            request.Headers.Add("x-fake-delay-ms", delay.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return request;
    }

    /// <summary>A transcription form as the SDKs send it: the file first, the model after it.</summary>
    private static HttpRequestMessage Transcription(string test, string model)
    {
        var form = new MultipartFormDataContent();
        var audio = new ByteArrayContent(new byte[256 * 1024]);
        audio.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        form.Add(audio, "file", "speech.wav");
        form.Add(new StringContent(model, Encoding.UTF8), "model");
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/audio/transcriptions") { Content = form };
        request.Headers.Add("x-test-id", test);
        return request;
    }
}

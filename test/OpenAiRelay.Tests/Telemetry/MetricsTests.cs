using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// <c>/metrics</c> scraped after known traffic through a real relay: exact counter values and histogram counts, the
/// per-key series against the ledger's own rows, where the endpoint answers and to whom, and no secret in a scrape.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsTests : IAsyncLifetime
{
    private const string AdminToken = "adm-canary-METRICS-4b7e1d9c2a5f3e80";
    private const string MetricsToken = "mtk-canary-METRICS-9e2d4c6a8b0f1e35";
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() =>
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task AfterKnownTraffic_TheScrapeCountsEveryRequestOnce_AndItsTokensAndCostAreTheLedgers()
    {
        await using var relay = await StartRelayAsync();
        var alice = await CreateKeyAsync(relay, new { name = "alice", rpm = 1 });
        var bob = await CreateKeyAsync(relay, new { name = "bob" });
        using var aliceClient = relay.CreateClient(alice);
        using var bobClient = relay.CreateClient(bob);

        // alice: one chat, then her rpm refuses the second.
        using (var ok = await aliceClient.SendAsync(Chat(stream: false)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var refused = await aliceClient.SendAsync(Chat(stream: false)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        // bob: a stream, an embedding, another key's file (isolation), a Realtime session.
        using (var streamed = await bobClient.SendAsync(Chat(stream: true)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            await streamed.Content.ReadAsStringAsync();
        }

        using (var embedded = await bobClient.PostAsync(new Uri("v1/embeddings", UriKind.Relative), Json("""{"model":"text-embedding-3-small","input":"hello there"}""")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, embedded.StatusCode);
        }

        using (var foreign = await bobClient.GetAsync(new Uri("v1/files/file-someoneelses", UriKind.Relative)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        using (var wrong = relay.CreateClient("rt-not-a-token"))
        using (var unauthorized = await wrong.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }

        using (var socket = new ClientWebSocket())
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + bob);
            await socket.ConnectAsync(new Uri(relay.BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/realtime?model=gpt-realtime"), CancellationToken.None).DefaultTimeout();
            Assert.Equal("session.created", (await socket.ReceiveJsonAsync()).GetProperty("type").GetString());
            var open = await ScrapeAsync(relay);
            Assert.Equal(1, open.Sum("relay_streams_active", "relay_stream_kind=websocket"));
            await socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"response.create"}"""), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
            while ((await socket.ReceiveJsonAsync()).GetProperty("type").GetString() != "response.done")
            {
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        }

        var scrape = await ScrapeUntilAsync(relay, s => s.Sum("relay_requests_total") == 7);
        Assert.Equal(2, scrape.Sum("relay_requests_total", "relay_endpoint=chat", "relay_outcome=completed", "relay_status_class=2xx"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=chat", "relay_outcome=rejected", "relay_status_class=4xx"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=embeddings", "relay_outcome=completed"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=files", "relay_outcome=rejected", "relay_status_class=4xx"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=models", "relay_outcome=rejected"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=realtime", "relay_outcome=completed", "relay_status_class=1xx"));
        Assert.Equal(1, scrape.Sum("relay_refusals_total", "relay_refusal_reason=rpm"));
        Assert.Equal(1, scrape.Sum("relay_refusals_total", "relay_refusal_reason=isolation"));
        Assert.Equal(1, scrape.Sum("relay_refusals_total", "relay_refusal_reason=auth"));
        Assert.Equal(3, scrape.Sum("relay_refusals_total"));
        Assert.Equal(0, scrape.Sum("relay_streams_active"));

        // GenAI: the two chats that ran and the session are chat operations; the refused one is timed with its error.
        Assert.Equal(4, scrape.Sum("gen_ai_server_request_duration_seconds_count", "gen_ai_operation_name=chat"));
        Assert.Equal(1, scrape.Sum("gen_ai_server_request_duration_seconds_count", "gen_ai_operation_name=chat", "error_type=rpm"));
        Assert.Equal(1, scrape.Sum("gen_ai_server_request_duration_seconds_count", "gen_ai_operation_name=embeddings"));
        Assert.Equal(1, scrape.Sum("gen_ai_server_time_to_first_token_seconds_count"));
        Assert.Equal(1, scrape.Sum("gen_ai_server_time_per_output_token_seconds_count"));
        Assert.Equal(3, scrape.Sum("gen_ai_client_token_usage_count", "gen_ai_operation_name=chat", "gen_ai_token_type=input"));
        Assert.Equal(1, scrape.Sum("gen_ai_client_token_usage_count", "gen_ai_operation_name=embeddings", "gen_ai_token_type=input"));
        Assert.Empty(scrape.Matching("gen_ai_client_token_usage_count", "gen_ai_operation_name=embeddings", "gen_ai_token_type=output"));
        Assert.Equal(2, scrape.Sum("gen_ai_server_request_duration_seconds_count", "gen_ai_request_model=gpt-4o-mini", "gen_ai_response_model=gpt-4o-mini", "gen_ai_provider_name=openai"));

        // Per key, exactly the ledger's rows: tokens, split so they add up, and integer micro-dollars.
        var ledger = await LedgerUntilAsync(relay, UsageGrouping.Key, rows => rows.Sum(r => r.InputTokens + r.OutputTokens) == scrape.Sum("relay_tokens_total"));
        foreach (var (key, label) in new[] { (alice, Label(alice)), (bob, Label(bob)) })
        {
            var row = Assert.Single(ledger, r => r.Group.EndsWith("(" + label + ")", StringComparison.Ordinal));
            Assert.True(row.InputTokens > 0);
            Assert.Equal(row.InputTokens + row.OutputTokens, scrape.Sum("relay_tokens_total", "relay_key=" + label));
            Assert.Equal(row.InputTokens - row.CachedTokens, scrape.Sum("relay_tokens_total", "relay_key=" + label, "relay_token_type=input"));
            Assert.Equal(row.CostMicros, scrape.Sum("relay_cost_micro_usd_total", "relay_key=" + label));
        }

        Assert.Equal(
            scrape.Sum("gen_ai_client_token_usage_sum", "gen_ai_token_type=input"),
            scrape.Sum("relay_tokens_total", "relay_token_type=input") + scrape.Sum("relay_tokens_total", "relay_token_type=cached_input"));
        Assert.Equal(2, scrape.Sum("relay_key_cache_lookups_total", "relay_cache_result=miss"));
        Assert.True(scrape.Sum("relay_key_cache_lookups_total", "relay_cache_result=hit") >= 3);
        Assert.True(scrape.Sum("relay_bytes_total", "relay_direction=out", "relay_endpoint=chat") > 0);
        Assert.Equal(0, scrape.Sum("relay_ledger_journal_bytes"));

        Secrets.AssertAbsent(scrape.Text, "a scrape");
        foreach (var secret in new[] { alice, bob, AdminToken, MetricsToken })
        {
            Assert.DoesNotContain(secret, scrape.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task KeyLabels_AreCappedAtMaxKeySeries_TheRestFoldedIntoOther_AndTheTotalStaysExact()
    {
        await using var relay = await StartRelayAsync(new() { ["Relay:Metrics:MaxKeySeries"] = "1" });
        var first = await CreateKeyAsync(relay, new { name = "first" });
        var second = await CreateKeyAsync(relay, new { name = "second" });
        foreach (var key in new[] { first, second })
        {
            using var client = relay.CreateClient(key);
            using var ok = await client.SendAsync(Chat(stream: false)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        var scrape = await ScrapeUntilAsync(relay, s => s.Sum("relay_requests_total") == 2);
        var keys = scrape.Matching("relay_tokens_total").Select(s => s.Labels["relay_key"]).Distinct().Order().ToArray();
        Assert.Equal(new[] { "other", Label(first) }, keys);
        var total = Assert.Single(await LedgerUntilAsync(relay, UsageGrouping.Total, rows => rows.Sum(r => r.InputTokens + r.OutputTokens) == scrape.Sum("relay_tokens_total")));
        Assert.Equal(total.InputTokens + total.OutputTokens, scrape.Sum("relay_tokens_total"));
    }

    [Fact]
    public async Task ModelNames_ThePriceTableDoesNotKnow_AreOther_SoAClientCannotMintSeries()
    {
        await using var relay = await StartRelayAsync();
        using var client = relay.CreateClient(RelayServer.ClientToken);
        foreach (var model in new[] { "gpt-4o-mini", "made-up-" + RelayServer.SecondClientToken, "gpt-4o-mini-2024-07-18" })
        {
            using var response = await client.PostAsync(
                new Uri("v1/chat/completions", UriKind.Relative),
                Json($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""")).DefaultTimeout();
        }

        var scrape = await ScrapeUntilAsync(relay, s => s.Sum("relay_requests_total") == 3);
        var models = scrape.Matching("gen_ai_server_request_duration_seconds_count").Select(s => s.Labels["gen_ai_request_model"]).Order().ToArray();
        Assert.Equal(new[] { "_OTHER", "gpt-4o-mini", "gpt-4o-mini-2024-07-18" }, models);
        Secrets.AssertAbsent(scrape.Text, "a scrape");
    }

    [Fact]
    public async Task UpstreamThatRefusesConnections_IsCountedAsAConnectError()
    {
        await using var relay = await RelayServer.StartAsync("http://127.0.0.1:9", new Dictionary<string, string?> { ["Relay:Metrics:Token"] = MetricsToken });
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using var response = await client.SendAsync(Chat(stream: false)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);

        var scrape = await ScrapeUntilAsync(relay, s => s.Sum("relay_requests_total") == 1);
        Assert.Equal(1, scrape.Sum("relay_upstream_errors_total", "error_type=connect_error"));
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_outcome=upstream_error", "relay_status_class=5xx"));
        Assert.Equal(1, scrape.Sum("gen_ai_server_request_duration_seconds_count", "error_type=connect_error"));
    }

    [Fact]
    public async Task WithAToken_MetricsAreServedOnThePublicPort_OnlyToThatToken_InTextOrOpenMetrics()
    {
        await using var relay = await StartRelayAsync();
        using var anonymous = new HttpClient { BaseAddress = relay.BaseAddress };
        using (var none = await anonymous.GetAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.DoesNotContain("relay_", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var wrong in new[] { RelayServer.ClientToken, AdminToken, MetricsToken + "x", MetricsToken[..^1] })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
            request.Headers.Authorization = new("Bearer", wrong);
            using var refused = await anonymous.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var openMetrics = new HttpRequestMessage(HttpMethod.Get, "metrics");
        openMetrics.Headers.Authorization = new("Bearer", MetricsToken);
        openMetrics.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        using var scraped = await anonymous.SendAsync(openMetrics).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.StartsWith("application/openmetrics-text", scraped.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", await scraped.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var text = await ScrapeAsync(relay);
        Assert.Contains("# TYPE relay_streams_active gauge", text.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnItsOwnPort_MetricsNeedNoToken_ThatPortServesNothingElse_AndThePublicPortServesNoMetrics()
    {
        var port = RelayProcess.FreePort();
        await using var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString().TrimEnd('/'), new Dictionary<string, string?> { ["Relay:Metrics:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using (var chat = await client.SendAsync(Chat(stream: false)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        }

        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        PrometheusText scrape;
        do
        {
            scrape = PrometheusText.Parse(await metrics.GetStringAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout());
        }
        while (scrape.Sum("relay_requests_total") < 1 && DateTime.UtcNow < deadline);
        Assert.Equal(1, scrape.Sum("relay_requests_total", "relay_endpoint=chat"));

        // The metrics port is no second door to the API, with or without a token.
        using var apiOnMetricsPort = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        apiOnMetricsPort.Headers.Authorization = new("Bearer", RelayServer.ClientToken);
        using (var refused = await metrics.SendAsync(apiOnMetricsPort).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        Assert.DoesNotContain(_fake.Requests, r => r.Path.EndsWith("/models", StringComparison.Ordinal));
        using var publicMetrics = await client.GetAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, publicMetrics.StatusCode);
        Assert.DoesNotContain("relay_", await publicMetrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ByDefault_NothingIsServedAtMetrics()
    {
        await using var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString().TrimEnd('/'));
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using var response = await client.GetAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(relay.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
    }

    internal static async Task<PrometheusText> ScrapeAsync(RelayServer relay)
    {
        using var client = new HttpClient { BaseAddress = relay.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", MetricsToken);
        return PrometheusText.Parse(await client.GetStringAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout());
    }

    /// <summary>A request is counted when its record is published, just after its last byte reached the client.</summary>
    private static async Task<PrometheusText> ScrapeUntilAsync(RelayServer relay, Func<PrometheusText, bool> settled)
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var scrape = await ScrapeAsync(relay);
            if (settled(scrape) || DateTime.UtcNow > deadline)
            {
                return scrape;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The ledger's rows reach the database in batches, just after the request: read until they have (or time out).</summary>
    private static async Task<IReadOnlyList<UsageSummaryRow>> LedgerUntilAsync(RelayServer relay, UsageGrouping by, Func<IReadOnlyList<UsageSummaryRow>, bool> written)
    {
        var store = relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var rows = await store.SummarizeAsync(new UsageQuery(null, null, by), CancellationToken.None);
            if (written(rows) || DateTime.UtcNow > deadline)
            {
                return rows;
            }

            await Task.Delay(50);
        }
    }

    private Task<RelayServer> StartRelayAsync(Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Relay:Metrics:Token"] = MetricsToken,
            ["Relay:AdminToken"] = AdminToken,
        };
        foreach (var (key, value) in settings ?? [])
        {
            values[key] = value;
        }

        return RelayServer.StartAsync(_fake.BaseAddress.ToString().TrimEnd('/'), values);
    }

    private static async Task<string> CreateKeyAsync(RelayServer relay, object body)
    {
        using var client = relay.CreateClient(AdminToken);
        using var response = await client.PostAsJsonAsync(new Uri("admin/keys", UriKind.Relative), body).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("key").GetString()!;
    }

    // rk_live_<keyid>_<secret>: the label and the ledger's key id are the public part.
    private static string KeyId(string key) => key.Substring("rk_live_".Length, 10);

    private static string Label(string key) => "rk_live_" + KeyId(key);

    private static HttpRequestMessage Chat(bool stream) => new(HttpMethod.Post, "v1/chat/completions")
    {
        Content = Json($$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hello"}]}"""),
    };

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

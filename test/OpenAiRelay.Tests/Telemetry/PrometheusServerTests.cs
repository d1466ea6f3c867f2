using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// A real Prometheus scraping a real relay's metrics port with the shipped alert rules: known traffic arrives in
/// Prometheus with exact counts, the rules load and evaluate against real series (health ok, nothing firing on healthy
/// traffic), and every expression of the dashboard and the rules is PromQL that Prometheus runs.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class PrometheusServerTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;
    private PrometheusServer _prometheus = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        var port = RelayProcess.FreePort();
        _relay = await KnownTraffic.StartRelayAsync(_fake, port);
        _prometheus = await PrometheusServer.StartAsync("127.0.0.1:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture), ObservabilityAssets.AlertsPath);
        await KnownTraffic.SendAsync(_relay, _fake);
    }

    public async Task DisposeAsync()
    {
        await _prometheus.DisposeAsync();
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task ScrapedByPrometheus_KnownTrafficArrivesWithExactCounts()
    {
        Assert.Equal(KnownTraffic.Requests, await _prometheus.ValueUntilAsync("sum(relay_requests_total)", KnownTraffic.Requests));
        Assert.Equal(3, await _prometheus.ValueUntilAsync("""sum(relay_requests_total{relay_endpoint="chat", relay_status_class="2xx", relay_outcome="completed"})""", 3));
        Assert.Equal(1, await _prometheus.ValueUntilAsync("""sum(relay_requests_total{relay_status_class="5xx"})""", 1));
        Assert.Equal(1, await _prometheus.ValueUntilAsync("""sum(relay_refusals_total{relay_refusal_reason="auth"})""", 1));
        Assert.Equal(1, await _prometheus.ValueUntilAsync("sum(relay_upstream_errors_total)", 1));
        Assert.Equal(1, await _prometheus.ValueUntilAsync("sum(gen_ai_server_time_to_first_token_seconds_count)", 1));
        Assert.Equal(1, await _prometheus.ValueUntilAsync("""count(up{job="openai-relay"} == 1)""", 1));
    }

    [Fact]
    public async Task TheShippedAlertRules_LoadAndEvaluateAgainstRealSeries_AndNoneFiresOnHealthyTraffic()
    {
        var shipped = ObservabilityAssets.AlertRules().Select(r => r.Name).Order().ToArray();
        Assert.Equal(5, shipped.Length);
        Assert.Equal(KnownTraffic.Requests, await _prometheus.ValueUntilAsync("sum(relay_requests_total)", KnownTraffic.Requests));

        // A rule's health is "unknown" until its first evaluation, one evaluation_interval (1 s) after loading.
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        System.Text.Json.JsonElement[] rules;
        do
        {
            await Task.Delay(500);
            rules = (await _prometheus.RulesAsync()).GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToArray();
        }
        while (rules.Any(r => r.GetProperty("health").GetString() != "ok") && DateTime.UtcNow < deadline);

        Assert.Equal(shipped, rules.Select(r => r.GetProperty("name").GetString()).Order().ToArray());
        foreach (var rule in rules)
        {
            var name = rule.GetProperty("name").GetString();
            Assert.Equal("alerting", rule.GetProperty("type").GetString());
            Assert.True(rule.GetProperty("health").GetString() == "ok", $"{name}: {rule.GetProperty("health")} {(rule.TryGetProperty("lastError", out var error) ? error.GetString() : null)}\n{_prometheus.Output}");
            Assert.True(rule.GetProperty("state").GetString() == "inactive", $"{name} is {rule.GetProperty("state")} on healthy traffic");
        }
    }

    [Fact]
    public async Task EveryDashboardAndAlertExpression_IsPromQLThatPrometheusRuns()
    {
        Assert.Equal(KnownTraffic.Requests, await _prometheus.ValueUntilAsync("sum(relay_requests_total)", KnownTraffic.Requests));
        var expressions = ObservabilityAssets.Expressions();
        Assert.True(expressions.Count > 15, $"{expressions.Count} expressions");
        foreach (var (where, expression) in expressions)
        {
            var data = await _prometheus.QueryAsync(ObservabilityAssets.ForPrometheus(expression));
            Assert.True(data.GetProperty("resultType").GetString() is "vector" or "scalar", $"{where}: {expression} answers a {data.GetProperty("resultType")}");
        }

        // A range query over the traffic reads it: the requests panel has series after a few scrapes.
        var requests = expressions.First(e => e.Where.Contains("Requests/s", StringComparison.Ordinal)).Expression;
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while ((await _prometheus.QueryAsync(ObservabilityAssets.ForPrometheus(requests))).GetProperty("result").GetArrayLength() == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }

        Assert.NotEqual(0, (await _prometheus.QueryAsync(ObservabilityAssets.ForPrometheus(requests))).GetProperty("result").GetArrayLength());
    }
}

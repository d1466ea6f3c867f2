using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Deployment;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// deploy/grafana/openai-relay.json and deploy/prometheus/alerts.yml read only metrics the relay exports: every metric
/// name in their expressions (and the dashboard's variables) appears in a real scrape after known traffic. The
/// dashboard is valid JSON whose every panel and query reads the <c>${datasource}</c> variable (so it works provisioned
/// and imported alike), with unique panel ids.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class DashboardTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() =>
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task EveryMetricTheDashboardAndAlertsRead_IsInARealScrape()
    {
        var port = RelayProcess.FreePort();
        await using var relay = await KnownTraffic.StartRelayAsync(_fake, port);
        await KnownTraffic.SendAsync(relay, _fake);

        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        PrometheusText scrape;
        do
        {
            scrape = PrometheusText.Parse(await metrics.GetStringAsync(new Uri("metrics", UriKind.Relative)).DefaultTimeout());
        }
        while (scrape.Sum("relay_requests_total") < KnownTraffic.Requests && DateTime.UtcNow < deadline);
        Assert.Equal(KnownTraffic.Requests, scrape.Sum("relay_requests_total"));

        var exported = scrape.Samples.Select(s => ObservabilityAssets.BaseName(s.Name)).ToHashSet(StringComparer.Ordinal);
        var expressions = ObservabilityAssets.Expressions();
        Assert.Contains(expressions, e => e.Where.StartsWith("alert ", StringComparison.Ordinal));
        var referenced = expressions
            .SelectMany(e => ObservabilityAssets.MetricNames(e.Expression).Select(name => (e.Where, Name: name)))
            .Concat(ObservabilityAssets.VariableMetrics().Select(name => (Where: "dashboard variable", Name: name)))
            .ToArray();

        // The parser found what the spec promises to be read (a parser finding nothing would pass vacuously).
        foreach (var name in new[]
        {
            "relay_requests_total", "relay_refusals_total", "relay_upstream_errors_total", "relay_tokens_total", "relay_cost_micro_usd_total",
            "relay_streams_active", "relay_ledger_queue", "relay_ledger_journal_bytes", "gen_ai_server_request_duration_seconds",
            "gen_ai_server_time_to_first_token_seconds",
        })
        {
            Assert.Contains(referenced, r => r.Name == name);
        }

        var missing = referenced.Where(r => !exported.Contains(r.Name)).Select(r => $"{r.Where}: {r.Name}").Distinct().ToArray();
        Assert.True(missing.Length == 0, "read but not exported by the relay:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void MetricNames_AreTheSelectedSeries_NotLabelsFunctionsOrNumbers()
    {
        Assert.Equal(
            ["gen_ai_server_time_to_first_token_seconds"],
            ObservabilityAssets.MetricNames("""histogram_quantile(0.95, sum by (le, relay_key) (rate(gen_ai_server_time_to_first_token_seconds_bucket{gen_ai_request_model=~"$model", x="a}b"}[$__rate_interval])))""").Order());
        Assert.Equal(
            ["relay_cost_micro_usd_total", "relay_requests_total"],
            ObservabilityAssets.MetricNames("""sum(increase(relay_cost_micro_usd_total[1d])) / 1e6 > bool 0 and on (instance) relay_requests_total offset 5m""").Order());
    }

    [Fact]
    public void Dashboard_IsJson_WithUniquePanelIds_AndEveryPanelReadsTheDatasourceVariable()
    {
        var dashboard = ObservabilityAssets.Dashboard();
        Assert.InRange(dashboard.GetProperty("schemaVersion").GetInt32(), 36, 41);
        Assert.False(dashboard.TryGetProperty("__inputs", out _), "an __inputs section is substituted on import only, never when provisioned");

        var variables = dashboard.GetProperty("templating").GetProperty("list").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        var datasource = variables["datasource"];
        Assert.Equal("datasource", datasource.GetProperty("type").GetString());
        Assert.Equal("prometheus", datasource.GetProperty("query").GetString());
        foreach (var name in new[] { "relay_key", "model" })
        {
            Assert.Equal("query", variables[name].GetProperty("type").GetString());
            Assert.StartsWith("label_values(", variables[name].GetProperty("definition").GetString(), StringComparison.Ordinal);
            AssertReadsTheVariable(variables[name].GetProperty("datasource"), "variable " + name);
        }

        var panels = ObservabilityAssets.Panels(dashboard).Where(p => p.GetProperty("type").GetString() != "row").ToArray();
        Assert.True(panels.Length >= 12, $"{panels.Length} panels");
        var ids = panels.Select(p => p.GetProperty("id").GetInt32()).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString()!;
            AssertReadsTheVariable(panel.GetProperty("datasource"), "panel " + title);
            var targets = panel.GetProperty("targets").EnumerateArray().ToArray();
            Assert.NotEmpty(targets);
            foreach (var target in targets)
            {
                AssertReadsTheVariable(target.GetProperty("datasource"), "a query of panel " + title);
                Assert.False(string.IsNullOrWhiteSpace(target.GetProperty("expr").GetString()), "an empty query in panel " + title);
            }
        }

        // The provisioned data source is the one the variable defaults to (Prometheus as Grafana's default).
        using var provisioned = JsonDocument.Parse(ComposeConfig.ToJson(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "deploy/grafana/provisioning/datasources/prometheus.yml"))));
        var source = Assert.Single(provisioned.RootElement.GetProperty("datasources").EnumerateArray());
        Assert.Equal("prometheus", source.GetProperty("uid").GetString());
        Assert.Equal("prometheus", source.GetProperty("type").GetString());
        Assert.Equal("http://prometheus:9090", source.GetProperty("url").GetString());
        Assert.True(source.GetProperty("isDefault").GetBoolean());
        using var provider = JsonDocument.Parse(ComposeConfig.ToJson(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "deploy/grafana/provisioning/dashboards/openai-relay.yml"))));
        var files = Assert.Single(provider.RootElement.GetProperty("providers").EnumerateArray());
        Assert.Equal("file", files.GetProperty("type").GetString());
        Assert.Equal("/var/lib/grafana/dashboards", files.GetProperty("options").GetProperty("path").GetString());
    }

    private static void AssertReadsTheVariable(JsonElement datasource, string where)
    {
        Assert.True(datasource.ValueKind == JsonValueKind.Object, where + " has no datasource");
        Assert.Equal("prometheus", datasource.GetProperty("type").GetString());
        Assert.True(datasource.GetProperty("uid").GetString() == "${datasource}", where + " does not read the ${datasource} variable");
    }
}

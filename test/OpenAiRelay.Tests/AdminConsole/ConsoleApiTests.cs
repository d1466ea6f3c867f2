using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Admin;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.AdminConsole;

/// <summary>
/// What the console's pages read, after known traffic through a real relay on both databases: the series, the range's
/// totals and the rows add up to exactly the ledger's own rows, pages chain without gaps or repeats, filters match
/// literally (no LIKE), the CSV defuses formulas, and the live view sees a stream while it runs and not after.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ConsoleApiTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string AdminToken = "adm-canary-CONSOLEAPI-3f8a1c6e9b2d4075";
    private FakeOpenAiServer _fake = null!;

    public static TheoryData<string> Engines => StoreTarget.Engines;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task SeriesStatsAndRows_AfterKnownTraffic_AddUpToTheLedgersOwnRows(string engine)
    {
        await using var store = await StoreTarget.CreateAsync(engine, postgres);
        await using var relay = await StartAsync(store);
        var alice = await CreateKeyAsync(relay, "alice");
        var bob = await CreateKeyAsync(relay, "bob");
        using (var client = relay.CreateClient(alice))
        {
            for (var i = 0; i < 3; i++)
            {
                using var chat = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}"""));
                Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            }

            using var stream = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream it"}]}"""));
            await stream.Content.ReadAsStringAsync();
        }

        using (var client = relay.CreateClient(bob))
        {
            using var embedding = await client.PostAsync(new Uri("v1/embeddings", UriKind.Relative), Json("""{"model":"text-embedding-3-small","input":"embed me"}"""));
            Assert.Equal(HttpStatusCode.OK, embedding.StatusCode);
            // A model name a spreadsheet would run as a formula, and one with LIKE's wildcards in it.
            using var formula = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), Json("""{"model":"=HYPERLINK(\"http://evil\",\"x\")","messages":[{"role":"user","content":"x"}]}"""));
            using var wildcard = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), Json("""{"model":"gpt-4o-mini%_","messages":[{"role":"user","content":"x"}]}"""));
        }

        var ledger = await LedgerAsync(relay, rows: 7);
        var byKey = await relay.Services.GetRequiredService<UsageStore>().SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Key), CancellationToken.None);
        using var admin = relay.CreateClient(AdminToken);

        // Series by key: each key's buckets add up to its ledger total, to the micro-dollar.
        using var series = await GetJsonAsync(admin, "admin/usage/series?bucket=hour&by=key");
        Assert.Equal("usage.series", series.RootElement.GetProperty("object").GetString());
        var points = series.RootElement.GetProperty("data").EnumerateArray().ToArray();
        foreach (var row in byKey)
        {
            var mine = points.Where(p => p.GetProperty("group").GetString() == row.Group).ToArray();
            Assert.Equal(row.Requests, mine.Sum(p => p.GetProperty("requests").GetInt64()));
            Assert.Equal(row.InputTokens, mine.Sum(p => p.GetProperty("input_tokens").GetInt64()));
            Assert.Equal(row.OutputTokens, mine.Sum(p => p.GetProperty("output_tokens").GetInt64()));
            Assert.Equal(row.CostMicros, mine.Sum(p => p.GetProperty("cost_micros").GetInt64()));
        }

        Assert.Equal(4, points.Where(p => p.GetProperty("group").GetString()!.StartsWith("alice (rk_live_", StringComparison.Ordinal)).Sum(p => p.GetProperty("requests").GetInt64()));
        Assert.All(points, p => Assert.Equal(TimeSpan.Zero, p.GetProperty("start").GetDateTimeOffset().TimeOfDay - TimeSpan.FromHours(p.GetProperty("start").GetDateTimeOffset().Hour)));

        // With room for one group only, the other is summed into "other": nothing is dropped.
        using var folded = await GetJsonAsync(admin, "admin/usage/series?bucket=day&by=key&limit=1");
        Assert.Equal(2, folded.RootElement.GetProperty("groups").GetArrayLength());
        Assert.Equal("other", folded.RootElement.GetProperty("groups")[1].GetString());
        Assert.Equal(ledger.Count, folded.RootElement.GetProperty("data").EnumerateArray().Sum(p => p.GetProperty("requests").GetInt64()));

        // Stats: the range's totals are the ledger's.
        using var stats = await GetJsonAsync(admin, "admin/usage/stats");
        var root = stats.RootElement;
        Assert.Equal(ledger.Count, root.GetProperty("requests").GetInt64());
        Assert.Equal(ledger.Sum(r => r.InputTokens), root.GetProperty("input_tokens").GetInt64());
        Assert.Equal(ledger.Sum(r => r.OutputTokens), root.GetProperty("output_tokens").GetInt64());
        Assert.Equal(ledger.Sum(r => r.CostMicros ?? 0), root.GetProperty("cost_micros").GetInt64());
        Assert.Equal(AdminJson.FormatUsd(ledger.Sum(r => r.CostMicros ?? 0)), root.GetProperty("cost_usd").GetString());
        Assert.Equal(ledger.Count(r => r.Status >= 400), root.GetProperty("errors").GetInt64());
        var latencies = ledger.Select(r => r.LatencyMs).Order().ToArray();
        Assert.Equal(latencies[(int)Math.Ceiling(0.5 * latencies.Length) - 1], root.GetProperty("latency_ms").GetProperty("p50").GetInt64());
        Assert.Equal(latencies[(int)Math.Ceiling(0.95 * latencies.Length) - 1], root.GetProperty("latency_ms").GetProperty("p95").GetInt64());
        Assert.StartsWith("alice (", root.GetProperty("top_keys")[0].GetProperty("group").GetString(), StringComparison.Ordinal);

        // Rows: pages of two chain through next_cursor to every row once, newest first.
        var ids = new List<string>();
        var starts = new List<DateTimeOffset>();
        string? cursor = null;
        do
        {
            using var page = await GetJsonAsync(admin, "admin/usage/rows?limit=2" + (cursor is null ? string.Empty : "&before=" + cursor));
            foreach (var row in page.RootElement.GetProperty("data").EnumerateArray())
            {
                ids.Add(row.GetProperty("request_id").GetString()!);
                starts.Add(row.GetProperty("started_at").GetDateTimeOffset());
            }

            cursor = page.RootElement.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(ledger.Select(r => r.RequestId).Order(), ids.Order());
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(starts.OrderDescending(), starts);

        // Filters are equalities: a key by name, a model literally (its % and _ are no wildcards), an outcome.
        using (var alicesRows = await GetJsonAsync(admin, "admin/usage/rows?key=alice"))
        {
            Assert.Equal(4, alicesRows.RootElement.GetProperty("data").GetArrayLength());
            Assert.All(alicesRows.RootElement.GetProperty("data").EnumerateArray(), r => Assert.Equal("alice", r.GetProperty("key").GetString()));
        }

        using (var literal = await GetJsonAsync(admin, "admin/usage/rows?model=" + Uri.EscapeDataString("gpt-4o-mini%_")))
        {
            Assert.Equal("gpt-4o-mini%_", Assert.Single(literal.RootElement.GetProperty("data").EnumerateArray()).GetProperty("model").GetString());
        }

        using (var pattern = await GetJsonAsync(admin, "admin/usage/rows?model=" + Uri.EscapeDataString("gpt-4o-%")))
        {
            Assert.Equal(0, pattern.RootElement.GetProperty("data").GetArrayLength());
        }

        using (var completed = await GetJsonAsync(admin, "admin/usage/rows?outcome=completed"))
        {
            Assert.Equal(ledger.Count(r => r.Outcome == UsageOutcome.Completed), completed.RootElement.GetProperty("data").GetArrayLength());
        }

        // CSV: a header and one line per row; the formula is text.
        using var csv = await admin.GetAsync(new Uri("admin/usage/rows?format=csv", UriKind.Relative));
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("usage-", csv.Content.Headers.ContentDisposition!.FileNameStar ?? csv.Content.Headers.ContentDisposition.FileName, StringComparison.Ordinal);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(CsvText.Header.TrimEnd(), lines[0]);
        Assert.Equal(ledger.Count + 1, lines.Length);
        Assert.Contains(lines, l => l.Contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(",=HYPERLINK", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadQueries_AreOpenAiShaped400s()
    {
        await using var store = await StoreTarget.CreateAsync(StoreTarget.Sqlite, postgres);
        await using var relay = await StartAsync(store);
        using var admin = relay.CreateClient(AdminToken);
        foreach (var query in new[]
        {
            "admin/usage/series?bucket=minute", "admin/usage/series?by=endpoint", "admin/usage/series?bucket=hour&since=2026-01-01&until=2026-03-01",
            "admin/usage/stats?since=2026-12-02&until=2026-12-01", "admin/usage/stats?since=2020-01-01&until=2026-01-01", "admin/usage/rows?outcome=nope",
            "admin/usage/rows?before=not-a-cursor", "admin/usage/rows?format=xml", "admin/usage/stats?since=yesterday",
        })
        {
            using var response = await admin.GetAsync(new Uri(query, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {response.StatusCode}");
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("invalid_request", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Live_SeesAStreamWhileItRuns_WithItsKeyAndModel_AndNothingAfter()
    {
        await using var store = await StoreTarget.CreateAsync(StoreTarget.Sqlite, postgres);
        await using var relay = await StartAsync(store);
        var carol = await CreateKeyAsync(relay, "carol");
        using var admin = relay.CreateClient(AdminToken);
        using var client = relay.CreateClient(carol);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"slowly"}]}"""),
        };
        request.Headers.Add("x-fake-events", "40");
        request.Headers.Add("x-fake-event-interval-ms", "50");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        using (var live = await GetJsonAsync(admin, "admin/live"))
        {
            Assert.Equal(1, live.RootElement.GetProperty("requests_in_flight").GetInt32());
            Assert.Equal(1, live.RootElement.GetProperty("streams").GetProperty("sse").GetInt32());
            var running = Assert.Single(live.RootElement.GetProperty("requests").EnumerateArray());
            Assert.Equal("carol", running.GetProperty("key").GetString());
            Assert.Equal(carol[..18], running.GetProperty("key_label").GetString());
            Assert.Equal("gpt-4o-mini", running.GetProperty("model").GetString());
            Assert.Equal("sse", running.GetProperty("stream").GetString());
            Assert.Equal("/v1/chat/completions", running.GetProperty("endpoint").GetString());
            Assert.Equal(response.Headers.GetValues("x-relay-request-id").Single(), running.GetProperty("request_id").GetString());
        }

        await response.Content.ReadAsStringAsync();
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        int inFlight;
        do
        {
            using var live = await GetJsonAsync(admin, "admin/live");
            inFlight = live.RootElement.GetProperty("requests_in_flight").GetInt32();
        }
        while (inFlight != 0 && DateTime.UtcNow < deadline);

        Assert.Equal(0, inFlight);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("=1+1", "'=1+1")]
    [InlineData("+cmd", "'+cmd")]
    [InlineData("-2", "'-2")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("line\nbreak", "\"line\nbreak\"")]
    [InlineData("\tlead", "'\tlead")]
    public void CsvFields_AreQuotedAsRfc4180_AndFormulasAreText(string value, string expected)
        => Assert.Equal(expected, CsvText.Field(new StringBuilder(), value).ToString());

    private Task<RelayServer> StartAsync(StoreTarget store)
    {
        var settings = store.Settings;
        settings["Relay:AdminToken"] = AdminToken;
        return RelayServer.StartAsync(_fake.BaseAddress.ToString().TrimEnd('/'), settings);
    }

    private static async Task<string> CreateKeyAsync(RelayServer relay, string name)
    {
        using var client = relay.CreateClient(AdminToken);
        using var response = await client.PostAsJsonAsync(new Uri("admin/keys", UriKind.Relative), new { name }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>The ledger's rows once all <paramref name="rows"/> are settled (they are written off the request path).</summary>
    private static async Task<IReadOnlyList<UsageRecord>> LedgerAsync(RelayServer relay, int rows)
    {
        var reports = relay.Services.GetRequiredService<UsageReports>();
        var store = relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var page = await reports.RowsAsync(new UsageRowFilter(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMinutes(1), null, null, null, null), 1000, CancellationToken.None);
            if ((page.Rows.Count == rows && page.Rows.All(r => r.Outcome != "in_flight")) || DateTime.UtcNow > deadline)
            {
                var records = new List<UsageRecord>();
                foreach (var row in page.Rows)
                {
                    records.Add((await store.GetAsync(row.RequestId, CancellationToken.None))!);
                }

                Assert.Equal(rows, records.Count);
                return records;
            }

            await Task.Delay(50);
        }
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative)).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {body}");
        return JsonDocument.Parse(body);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

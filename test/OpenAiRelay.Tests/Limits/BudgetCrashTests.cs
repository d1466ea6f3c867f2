using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Limits;

/// <summary>
/// A published relay killed with <c>kill -9</c> while streams hold budget reservations: the reservations die with the
/// process, so they never lock the budget, and the restarted process takes the key's spend from the ledger, where the
/// reconciler has settled the interrupted rows with their estimates (never a silent zero).
/// </summary>
public sealed class BudgetCrashTests : IAsyncLifetime
{
    private const string AdminToken = "admin-token-for-budget-crash-tests-0123";
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() =>
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task Kill9WithReservationsOpen_TheRestartedRelayIsNotLocked_AndCountsTheInterruptedSpend()
    {
        using var data = new TempDataDirectory();
        var port = RelayProcess.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary,
            ["RELAY_TOKEN"] = RelayServer.ClientToken,
            ["RELAY_ADMIN_TOKEN"] = AdminToken,
            ["OPENAI_BASE_URL"] = _fake.BaseAddress + "v1",
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["RELAY_DATA_DIR"] = data.Path,
        };

        string key;
        var streams = new List<HttpResponseMessage>();
        await using (var relay = await PublishedRelay.StartAsync(environment))
        {
            await relay.WaitUntilHealthyAsync(port);
            using (var admin = Client(port, AdminToken))
            using (var created = await admin.PostAsJsonAsync("admin/keys", new { name = "crash", budget_usd = 0.02m }).DefaultTimeout())
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                key = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
            }

            // Each stream reserves just over 6,000 micro-dollars (max_tokens 10,000 at $0.60 per 1M): three fit in
            // $0.02, a fourth does not while they are open.
            using var client = Client(port, key);
            for (var i = 0; i < 3; i++)
            {
                var response = await client.SendAsync(Stream(), HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                streams.Add(response);
            }

            using (var refused = await client.SendAsync(Stream()).DefaultTimeout())
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
                Assert.Contains("insufficient_quota", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            // The in-flight rows are written off the request path; kill -9 once they are on disk (what a crash loses
            // before that is the ledger's documented window, docs/keys-and-usage.md).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Rows(data.Path).Count(r => r.Outcome == "in_flight") < 3)
            {
                Assert.True(DateTime.UtcNow < deadline, "in-flight rows not on disk");
                await Task.Delay(50);
            }

            relay.Process.Kill();
            await relay.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        foreach (var stream in streams)
        {
            stream.Dispose();
        }

        await using var restarted = await PublishedRelay.StartAsync(environment);
        await restarted.WaitUntilHealthyAsync(port);

        // The dead process's reservations are gone: the same request is admitted again.
        using (var client = Client(port, key))
        using (var admitted = await client.SendAsync(Stream(events: 3)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
            await admitted.Content.ReadAsStringAsync();
        }

        // And the spend it started from is the ledger's: the three interrupted streams at their estimates, plus the one
        // just completed, all above zero.
        using var list = Client(port, AdminToken);
        var settledBy = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var keys = JsonDocument.Parse(await list.GetStringAsync("admin/keys").DefaultTimeout());
            var spend = keys.RootElement.GetProperty("data")[0].GetProperty("spend");
            var spent = spend.GetProperty("spent_usd").GetDecimal();
            var rows = Rows(data.Path);
            // The listing and the rows are two reads: the last row may settle between them, so compare once both agree.
            if (rows.Count(r => r.Outcome == "interrupted") == 3 && rows.Any(r => r.Outcome == "completed") && rows.Sum(r => r.CostMicros) / 1_000_000m == spent)
            {
                Assert.All(rows, r => Assert.True(r.CostMicros > 0, $"{r.Outcome} row without a cost"));
                break;
            }

            Assert.True(DateTime.UtcNow < settledBy, $"rows {string.Join(", ", rows.Select(r => $"{r.Outcome} {r.CostMicros}"))}, listed spend {spent}");
            await Task.Delay(100);
        }
    }

    private static HttpRequestMessage Stream(int events = 400)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"max_tokens":10000,"messages":[{"role":"user","content":"tell me a long story"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-events", events.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("x-fake-event-interval-ms", "50");
        return request;
    }

    private static HttpClient Client(int port, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    private sealed record Row(string Outcome, long CostMicros);

    private static List<Row> Rows(string dataDirectory)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(
            new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDirectory, "relay.db"), Pooling = false, DefaultTimeout = 5 }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT outcome, COALESCE(cost_micros, 0) FROM usage_records WHERE key_id <> 'relay-token';";
        var rows = new List<Row>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new Row(reader.GetString(0), reader.GetInt64(1)));
        }

        return rows;
    }
}

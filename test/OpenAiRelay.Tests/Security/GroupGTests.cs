using System.Globalization;
using System.Net;
using System.Text;
using FakeOpenAi;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group G: process lifecycle and ledger durability, with the published relay as its own process
/// where a process must die, and the SQLite file read directly. G5 and G6 are proven by SqliteDurabilityTests, the
/// journal side of G4 by UsageLedgerTests (docs/threat-model.md).
/// </summary>
public sealed class GroupGTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    private const string StreamBody = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}""";

    [Fact]
    public async Task G2_Kill9MidStream_RestartSettlesTheRowAsInterruptedOnce()
    {
        using var data = new TempDataDirectory();
        var port = RelayProcess.FreePort();
        var environment = ProcessEnvironment(data.Path, port);
        string requestId;
        await using (var relay = await PublishedRelay.StartAsync(environment))
        {
            await relay.WaitUntilHealthyAsync(port);
            using var client = Client(port);
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(StreamBody, Encoding.UTF8, "application/json") };
            request.Headers.Add("x-fake-events", "400");
            request.Headers.Add("x-fake-event-interval-ms", "50");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            requestId = response.Headers.GetValues("x-relay-request-id").Single();

            // The in-flight row is written before the upstream sees anything; wait until it is on disk, then kill -9.
            await WaitForAsync(() => Rows(data.Path).Any(r => r.RequestId == requestId && r.Outcome == "in_flight"), "in-flight row on disk");
            relay.Process.Kill();
            await relay.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        await using (var restarted = await PublishedRelay.StartAsync(environment))
        {
            await restarted.WaitUntilHealthyAsync(port);
            var rows = Rows(data.Path);
            var row = Assert.Single(rows, r => r.RequestId == requestId);
            Assert.Equal("interrupted", row.Outcome);
            Assert.True(row.Estimated);
            Assert.True(row.InputTokens > 0, "an interrupted request is never a silent zero");
            Assert.DoesNotContain(rows, r => r.Outcome == "in_flight");
            Assert.Equal(rows.Count, rows.Select(r => r.RequestId).Distinct().Count());

            // Restarting again changes nothing: reconciliation never counts a row twice.
            restarted.Terminate();
            Assert.Equal(0, await restarted.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Secrets.AssertAbsent(restarted.Output, "the relay's console output");
        }

        await using (var third = await PublishedRelay.StartAsync(environment))
        {
            await third.WaitUntilHealthyAsync(port);
            var again = Assert.Single(Rows(data.Path), r => r.RequestId == requestId);
            Assert.Equal("interrupted", again.Outcome);
        }

        AssertNoSecretsOnDisk(data.Path);
    }

    [Fact]
    public async Task G1_SigtermWithStreamsInFlight_AllRowsSettledAndExitZero()
    {
        using var data = new TempDataDirectory();
        var port = RelayProcess.FreePort();
        var environment = ProcessEnvironment(data.Path, port);
        environment["Relay__ShutdownTimeout"] = "00:00:20";
        environment["Relay__DrainDelay"] = "00:00:03";
        await using var relay = await PublishedRelay.StartAsync(environment);
        await relay.WaitUntilHealthyAsync(port);

        using var client = Client(port);
        var streams = new List<(string Id, Task<List<SseReader.TimedEvent>> Reading, HttpResponseMessage Response)>();
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(StreamBody, Encoding.UTF8, "application/json") };
            request.Headers.Add("x-fake-events", "30");
            request.Headers.Add("x-fake-event-interval-ms", "100");
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            streams.Add((response.Headers.GetValues("x-relay-request-id").Single(), SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()), response));
        }

        await Task.Delay(300);
        relay.Terminate();

        // Draining, inside the 3 s drain delay: readiness fails, and a new request on a new connection is refused with
        // 503, Retry-After and Connection: close, never forwarded. Both must be seen: a closed listener is a failure here.
        using (var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) })
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            HttpStatusCode readiness;
            do
            {
                using var ready = await probe.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"));
                readiness = ready.StatusCode;
            }
            while (readiness == HttpStatusCode.OK && DateTime.UtcNow < deadline);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness);

            using var late = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{port}/v1/models"));
            late.Headers.Authorization = new("Bearer", RelayServer.ClientToken);
            late.Headers.Add("x-test-id", "late-while-draining");
            using var refused = await probe.SendAsync(late);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.True(refused.Headers.ConnectionClose);
            Assert.Contains("\"type\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain(fixture.Fake.Requests, r => r.Headers.GetValueOrDefault("x-test-id") == "late-while-draining");
        }

        foreach (var (_, reading, response) in streams)
        {
            var events = await reading.DefaultTimeout();
            Assert.Equal("data: [DONE]", events[^1].Text);
            response.Dispose();
        }

        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var rows = Rows(data.Path);
        foreach (var (id, _, _) in streams)
        {
            var row = Assert.Single(rows, r => r.RequestId == id);
            Assert.Equal("completed", row.Outcome);
            Assert.False(row.Estimated);
            Assert.True(row.OutputTokens > 0);
        }

        Assert.DoesNotContain(rows, r => r.Outcome == "in_flight");
        Assert.False(File.Exists(Path.Combine(data.Path, "ledger-journal.jsonl")) && new FileInfo(Path.Combine(data.Path, "ledger-journal.jsonl")).Length > 0, "settlements left in the journal");
        AssertNoSecretsOnDisk(data.Path);
    }

    [Fact]
    public async Task G3_DatabaseLockedByAnotherProcess_AdmissionFailsClosedWith503ThenRecovers()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Storage:BusyTimeout"] = "00:00:01" });
        var check = fixture.Check(relay);
        using var client = relay.CreateClient();
        string firstId;
        await using (var locker = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(relay.DataDirectory, "relay.db"), Pooling = false }.ToString()))
        {
            await locker.OpenAsync();
            using (var begin = locker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE;";
                await begin.ExecuteNonQueryAsync();
            }

            // The ledger is asynchronous, so the first request after the lock is admitted; its records cannot be
            // written, retried, then journaled (fsync'd), and the failure turns the ledger unhealthy.
            using (var first = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout())
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
                firstId = first.Headers.GetValues("x-relay-request-id").Single();
                await check.RecordAsync(first, admitted: true);
            }

            HttpResponseMessage? refused = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (refused is null && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
                var upstreamBefore = fixture.Fake.Requests.Count;
                var started = DateTime.UtcNow;
                var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    // Fail closed and fast: no waiting on the lock, nothing forwarded.
                    Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1));
                    Assert.Equal(upstreamBefore, fixture.Fake.Requests.Count);
                    refused = response;
                }
                else
                {
                    await check.RecordAsync(response, admitted: true);
                    response.Dispose();
                }
            }

            Assert.NotNull(refused);
            var body = await check.RecordAsync(refused, admitted: false);
            Assert.Contains("\"code\":\"ledger_unavailable\"", body, StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
            refused.Dispose();

            using var rollback = locker.CreateCommand();
            rollback.CommandText = "ROLLBACK;";
            await rollback.ExecuteNonQueryAsync();
        }

        // Lock gone: the journal is replayed, the ledger is healthy again, and requests flow.
        var recovered = false;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!recovered && DateTime.UtcNow < until)
        {
            await Task.Delay(250);
            using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
            recovered = response.StatusCode == HttpStatusCode.OK;
            await check.RecordAsync(response, admitted: recovered);
        }

        Assert.True(recovered, "the ledger never recovered after the lock was released");
        Assert.Equal(firstId, (await Invariants.SettledAsync(relay.Services.GetRequiredService<OpenAiRelay.Storage.UsageStore>(), firstId)).RequestId);
        // LedgerWriteFailed (310) is the expected, loud signal of this fault.
        await check.AssertAllAsync(allowedErrorEventIds: [310]);
    }

    private Dictionary<string, string> ProcessEnvironment(string dataDirectory, int port) => new()
    {
        ["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary,
        ["RELAY_TOKEN"] = RelayServer.ClientToken,
        ["OPENAI_BASE_URL"] = fixture.Fake.BaseAddress + "v1",
        ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
        ["RELAY_DATA_DIR"] = dataDirectory,
    };

    private static HttpClient Client(int port)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        return client;
    }

    private sealed record Row(string RequestId, string Outcome, bool Estimated, long InputTokens, long OutputTokens);

    private static List<Row> Rows(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "relay.db");
        if (!File.Exists(path))
        {
            return [];
        }

        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 5 }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT request_id, outcome, estimated, input_tokens, output_tokens FROM usage_records;";
        var rows = new List<Row>();
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new Row(reader.GetString(0), reader.GetString(1), reader.GetInt64(2) != 0, reader.GetInt64(3), reader.GetInt64(4)));
            }
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 1)
        {
            // The schema is not there yet (the relay is still migrating).
        }

        return rows;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static void AssertNoSecretsOnDisk(string dataDirectory)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.EnumerateFiles(dataDirectory))
        {
            Secrets.AssertAbsent(Encoding.Latin1.GetString(File.ReadAllBytes(file)), Path.GetFileName(file));
        }
    }
}

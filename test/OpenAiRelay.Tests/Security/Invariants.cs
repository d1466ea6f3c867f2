using System.Text;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// The four checks security.md asks of every failure-matrix case ("nothing leaked, nothing lost"):
/// L1 no secret in responses, logs (captured at Trace) or the database files; L2 the upstream saw only the server
/// key and no client credential; L3 exactly one terminal ledger row per admitted request and none for a refused
/// one; L4 no 500 and no Error-level log entry or unhandled exception.
/// </summary>
public sealed class Invariants(RelayServer relay, FakeOpenAiServer fake, IReadOnlyList<string> canaries)
{
    private readonly List<string> _texts = [];
    private readonly List<int> _statuses = [];
    private readonly List<string> _admitted = [];
    private readonly List<string> _refused = [];
    private int _upstreamBefore = fake.Requests.Count;
    private int _logsBefore = relay.Logs.Entries.Count;

    /// <summary>Forget what happened before this point (upstream requests, log entries).</summary>
    public Invariants Begin()
    {
        _upstreamBefore = fake.Requests.Count;
        _logsBefore = relay.Logs.Entries.Count;
        return this;
    }

    /// <summary>Upstream requests seen since <see cref="Begin"/>.</summary>
    public IReadOnlyList<RecordedRequest> UpstreamRequests => fake.Requests.Skip(_upstreamBefore).ToList();

    /// <summary>Records a response: its status, headers and body are scanned, and its ledger row checked.</summary>
    /// <param name="fromUpstream">The status is the upstream's own, passed through (an upstream 500 is not the relay's).</param>
    public async Task<string> RecordAsync(HttpResponseMessage response, bool admitted, bool fromUpstream = false)
    {
        var body = await response.Content.ReadAsStringAsync();
        _texts.Add(response.Headers + "\n" + response.Content.Headers + "\n" + body);
        if (!fromUpstream)
        {
            _statuses.Add((int)response.StatusCode);
        }

        if (response.Headers.TryGetValues("x-relay-request-id", out var ids))
        {
            (admitted ? _admitted : _refused).Add(ids.Single());
        }
        else
        {
            Assert.False(admitted, "an admitted request must carry x-relay-request-id");
        }

        return body;
    }

    /// <summary>Records a raw (TCP) response: scanned for secrets and 500s.</summary>
    public void RecordRaw(string raw)
    {
        _texts.Add(raw);
        _statuses.AddRange(RawHttp.StatusCodes(raw));
    }

    public async Task AssertAllAsync(params int[] allowedErrorEventIds)
    {
        await AssertLedgerAsync();
        AssertNoSecrets();
        AssertUpstreamClean();
        AssertNoServerErrors(allowedErrorEventIds);
    }

    /// <summary>L1.</summary>
    public void AssertNoSecrets()
    {
        foreach (var text in _texts)
        {
            AssertAbsent(text, "a response");
        }

        AssertAbsent(relay.Logs.AllText, "the relay's logs");
        foreach (var file in Directory.EnumerateFiles(relay.DataDirectory))
        {
            // The database, its WAL and the fallback journal, read as bytes (WAL frames are not yet in relay.db).
            FileStream stream;
            try
            {
                stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                // The WAL (or journal) went away between listing and opening: a checkpoint moved its frames into relay.db.
                continue;
            }

            using var _ = stream;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            AssertAbsent(Encoding.Latin1.GetString(buffer.ToArray()), Path.GetFileName(file));
        }
    }

    /// <summary>L2: every upstream request carried the server key and nothing of the client's credentials.</summary>
    public void AssertUpstreamClean()
    {
        foreach (var request in UpstreamRequests)
        {
            Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, request.Headers.GetValueOrDefault("Authorization"));
            var seen = string.Join('\n', request.Headers.Where(h => h.Key != "Authorization").Select(h => h.Key + ": " + h.Value))
                + request.RawTarget + (request.Body is { } body ? Encoding.Latin1.GetString(body) : string.Empty);
            foreach (var canary in canaries.Where(c => c != RelayServer.UpstreamKeyCanary))
            {
                Assert.False(seen.Contains(canary, StringComparison.Ordinal), $"client secret '{canary[..10]}...' reached the upstream");
            }
        }
    }

    /// <summary>L3: one terminal row per admitted request, none for refused ones, none left in flight.</summary>
    public async Task AssertLedgerAsync()
    {
        var store = relay.Services.GetRequiredService<UsageStore>();
        foreach (var id in _admitted)
        {
            var row = await SettledAsync(store, id);
            Assert.NotEqual(UsageOutcome.InFlight, row.Outcome);
            if (row.Estimated)
            {
                // An estimate is never a silent zero: it holds tokens, unless there was nothing to estimate from at all
                // (no prompt estimate and no model). A zero next to a non-zero admission estimate is the bug itself.
                Assert.True(row.InputTokens + row.OutputTokens > 0 || (row.EstimatedInputTokens == 0 && row.Model is null), $"row {id} is an estimate of zero");
            }
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        IReadOnlyList<UsageRecord> open;
        while ((open = await store.ListInFlightAsync(DateTimeOffset.MaxValue, CancellationToken.None)).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Empty(open);

        // Only now, with every admitted row written and several batch windows (25 ms each) gone by, can the absence of
        // a refused request's row mean it was never queued rather than not yet written.
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        foreach (var id in _refused)
        {
            Assert.Null(await store.GetAsync(id, CancellationToken.None));
        }
    }

    /// <summary>L4: no 500 from the relay, no Error-level log entry (unless expected) and no unhandled exception.</summary>
    public void AssertNoServerErrors(params int[] allowedErrorEventIds)
    {
        Assert.DoesNotContain(500, _statuses);
        var entries = relay.Logs.Entries.Skip(_logsBefore).ToList();
        var errors = entries.Where(e => e.Level >= LogLevel.Error && !allowedErrorEventIds.Contains(e.EventId.Id)).ToList();
        Assert.True(errors.Count == 0, "unexpected error log entries:\n" + string.Join('\n', errors));
        Assert.DoesNotContain(entries, e => e.Message.Contains("Unhandled", StringComparison.OrdinalIgnoreCase));
    }

    internal static async Task<UsageRecord> SettledAsync(UsageStore store, string requestId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        UsageRecord? record = null;
        while (DateTime.UtcNow < deadline)
        {
            record = await store.GetAsync(requestId, CancellationToken.None);
            if (record is { Outcome: not UsageOutcome.InFlight })
            {
                return record;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"request {requestId}: no settled ledger row (last seen: {record?.Outcome.ToString() ?? "none"})");
        return null!;
    }

    private void AssertAbsent(string text, string where)
    {
        foreach (var canary in canaries)
        {
            Assert.False(text.Contains(canary, StringComparison.Ordinal), $"secret '{canary[..10]}...' leaked into {where}");
        }
    }
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Metering;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Tests.Storage;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Tests.Metering;

public sealed class UsageLedgerTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StopAsync_DrainsEverythingQueued()
    {
        using var directory = new TempDataDirectory();
        var (database, store) = await SqliteStoreAsync(directory);
        var (ledger, writer, _) = CreateLedger(directory, store);
        await writer.StartAsync(default);

        for (var i = 0; i < 1000; i++)
        {
            var open = UsageRecords.InFlight($"req_{i}");
            ledger.Open(open);
            ledger.Settle(UsageRecords.Completed(open, 1000, 100, cost: null));
        }

        await writer.StopAsync(default).WaitAsync(s_bound);

        var total = Assert.Single(await store.SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Total), default));
        Assert.Equal(1000, total.Requests);
        Assert.Equal(0, total.UnpricedRequests);
        // Settle priced each row: 1000 in × $0.15 + 100 out × $0.60 per 1M = 150 + 60 micro-dollars.
        Assert.Equal(1000 * 210, total.CostMicros);
        Assert.Empty(await store.ListInFlightAsync(DateTimeOffset.MaxValue, default));
        SqliteConnection.ClearAllPools();
        _ = database;
    }

    [Fact]
    public void Settle_KnownModelWithoutCost_IsPricedAndUnknownModelStaysNull()
    {
        using var directory = new TempDataDirectory();
        var (ledger, _, _) = CreateLedger(directory, store: null!, capacity: 10);
        ledger.Settle(UsageRecords.Completed(UsageRecords.InFlight("a", model: "gpt-4o"), 1_000_000, 0, cost: null, cached: 400_000));
        ledger.Settle(UsageRecords.Completed(UsageRecords.InFlight("b", model: "nobody-knows"), 10, 10, cost: null));
        ledger.Settle(UsageRecords.Completed(UsageRecords.InFlight("c", model: "gpt-4o"), 10, 10, cost: 7));

        Assert.True(ledger.Reader.TryRead(out var a));
        Assert.Equal(2_000_000, a.CostMicros); // 600k × $2.50 + 400k × $1.25 per 1M
        Assert.True(ledger.Reader.TryRead(out var b));
        Assert.Null(b.CostMicros);
        Assert.True(ledger.Reader.TryRead(out var c));
        Assert.Equal(7, c.CostMicros);
    }

    [Fact]
    public void QueueFull_RecordGoesToTheJournalInsteadOfBlocking()
    {
        using var directory = new TempDataDirectory();
        var (ledger, _, journal) = CreateLedger(directory, store: null!, capacity: 1);
        ledger.Open(UsageRecords.InFlight("first"));
        ledger.Open(UsageRecords.InFlight("second"));

        // Journaled off the request thread; flushing waits for (or does) that write.
        ledger.FlushOverflow();
        Assert.True(journal.HasPending);
        Assert.Contains("\"request_id\":\"second\"", File.ReadAllText(journal.Path));
    }

    [Fact]
    public async Task JournalReplay_WritesInBatchesOfAtMostMaxBatch()
    {
        using var directory = new TempDataDirectory();
        var journal = new UsageLedgerJournal(directory.File(UsageLedgerJournal.FileName));
        journal.Append(Enumerable.Range(0, 1_200).Select(i => UsageRecords.InFlight("req_" + i)).ToList());
        var batches = new List<int>();

        var (replayed, _) = await journal.ReplayAsync(records =>
        {
            batches.Add(records.Count);
            return Task.CompletedTask;
        });

        Assert.Equal(1_200, replayed);
        Assert.Equal([UsageLedgerWriter.MaxBatch, UsageLedgerWriter.MaxBatch, 200], batches);
        Assert.False(journal.HasPending);
    }

    [Fact]
    public async Task JournalReplay_FailingPartWay_KeepsEveryRecord_AndWhatWasAppendedMeanwhile()
    {
        using var directory = new TempDataDirectory();
        var journal = new UsageLedgerJournal(directory.File(UsageLedgerJournal.FileName));
        journal.Append(Enumerable.Range(0, 1_200).Select(i => UsageRecords.InFlight("req_" + i)).ToList());
        var calls = 0;

        await Assert.ThrowsAsync<IOException>(() => journal.ReplayAsync(records =>
        {
            // The database fails on the second batch, after a record was journaled while the replay ran.
            if (++calls == 2)
            {
                journal.Append([UsageRecords.InFlight("req_meanwhile")]);
                throw new IOException("database gone");
            }

            return Task.CompletedTask;
        }));

        Assert.True(journal.HasPending);
        Assert.False(File.Exists(journal.Path + ".replaying"));
        var ids = new List<string>();
        var (replayed, skipped) = await journal.ReplayAsync(records =>
        {
            ids.AddRange(records.Select(r => r.RequestId));
            return Task.CompletedTask;
        });

        Assert.Equal((1_201, 0), (replayed, skipped));
        Assert.Equal(1_201, ids.Distinct().Count());
        Assert.Contains("req_meanwhile", ids);
        Assert.False(journal.HasPending);
    }

    [Fact]
    public async Task DatabaseLocked_LedgerTurnsUnhealthy_JournalsAndRecoversWhenFree()
    {
        using var directory = new TempDataDirectory();
        var (_, store) = await SqliteStoreAsync(directory, busyTimeout: TimeSpan.FromMilliseconds(300));
        var (ledger, writer, journal) = CreateLedger(directory, store);
        await using var holder = new SqliteConnection($"Data Source={directory.File("relay.db")};Pooling=False");
        await holder.OpenAsync();
        using (var exclusive = holder.CreateCommand())
        {
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            await exclusive.ExecuteNonQueryAsync();
        }

        await writer.StartAsync(default);
        var open = UsageRecords.InFlight("req_while_locked");
        ledger.Open(open);
        ledger.Settle(UsageRecords.Completed(open, 10, 10, null));

        await WaitUntilAsync(() => !ledger.IsHealthy);
        await WaitUntilAsync(() => journal.HasPending);

        using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK;";
            await rollback.ExecuteNonQueryAsync();
        }

        await WaitUntilAsync(() => ledger.IsHealthy && !journal.HasPending);
        await writer.StopAsync(default).WaitAsync(s_bound);
        var row = await store.GetAsync("req_while_locked", default);
        Assert.Equal(UsageOutcome.Completed, row!.Outcome);
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Startup_ReplaysJournalAndReconcilesCrashedRows()
    {
        using var directory = new TempDataDirectory();
        var (_, store) = await SqliteStoreAsync(directory);
        // A previous process: one request crashed in flight; another's settlement only reached the journal.
        var crashed = UsageRecords.InFlight("req_crashed", estimate: 2_000);
        var journaledOpen = UsageRecords.InFlight("req_journaled");
        await store.UpsertAsync([crashed, journaledOpen], default);
        new UsageLedgerJournal(directory.File(UsageLedgerJournal.FileName)).Append([UsageRecords.Completed(journaledOpen, 5, 5, 1)]);
        await File.AppendAllTextAsync(directory.File(UsageLedgerJournal.FileName), "{\"request_id\":\"torn"); // a torn last line
        SqliteConnection.ClearAllPools();

        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        await using var relay = await LedgerRelay.StartAsync(settings);

        Assert.False(File.Exists(directory.File(UsageLedgerJournal.FileName)));
        var journaled = await store.GetAsync("req_journaled", default);
        Assert.Equal(UsageOutcome.Completed, journaled!.Outcome);
        var interrupted = await store.GetAsync("req_crashed", default);
        Assert.Equal(UsageOutcome.Interrupted, interrupted!.Outcome);
        Assert.True(interrupted.Estimated);
        Assert.Equal(2_000, interrupted.InputTokens);
        Assert.Equal(300, interrupted.CostMicros);
        Assert.Empty(await store.ListInFlightAsync(DateTimeOffset.MaxValue, default));
    }

    [Fact]
    public async Task Shutdown_SettlementOfARequestStillInFlight_IsWritten()
    {
        using var directory = new TempDataDirectory();
        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        var handlerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var relay = await LedgerRelay.StartAsync(settings, app => app.MapGet("/slow", async (IUsageLedger ledger) =>
        {
            var open = UsageRecords.InFlight("req_during_shutdown");
            ledger.Open(open);
            handlerStarted.SetResult();
            // Still working when SIGTERM arrives: Kestrel waits for it, and only then the ledger writer stops.
            await Task.Delay(1500);
            ledger.Settle(UsageRecords.Completed(open, 10, 10, null));
            return Results.Text("done");
        }));

        var response = relay.Client.GetAsync("/slow");
        await handlerStarted.Task.WaitAsync(s_bound);
        await relay.App.StopAsync().WaitAsync(s_bound);
        Assert.Equal(HttpStatusCode.OK, (await response.WaitAsync(s_bound)).StatusCode);
        await relay.App.DisposeAsync();

        var (_, store) = await SqliteStoreAsync(directory);
        var row = await store.GetAsync("req_during_shutdown", default);
        Assert.Equal(UsageOutcome.Completed, row!.Outcome);
        Assert.Equal(8, row.CostMicros); // 10 × $0.15 + 10 × $0.60 per 1M = 7.5 micro-dollars, rounded half away from zero
    }

    private static async Task<(RelayDatabase Database, UsageStore Store)> SqliteStoreAsync(TempDataDirectory directory, TimeSpan? busyTimeout = null)
    {
        var database = new SqliteRelayDatabase(directory.File("relay.db"), busyTimeout ?? TimeSpan.FromSeconds(2));
        await database.PrepareAsync(default);
        await SchemaMigrator.MigrateAsync(database, TimeProvider.System, default);
        return (database, new UsageStore(database));
    }

    private static (UsageLedger Ledger, UsageLedgerWriter Writer, UsageLedgerJournal Journal) CreateLedger(TempDataDirectory directory, UsageStore store, int capacity = 10_000)
    {
        var options = Options.Create(new StorageOptions { DataDirectory = directory.Path, QueueCapacity = capacity });
        var journal = new UsageLedgerJournal(directory.File(UsageLedgerJournal.FileName));
        var ledger = new UsageLedger(PriceTable.Load(null), journal, options, NullLogger<UsageLedger>.Instance);
        var writer = new UsageLedgerWriter(ledger, store, journal, TimeProvider.System, options, NullLogger<UsageLedgerWriter>.Instance);
        return (ledger, writer, journal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(50);
        }
    }
}

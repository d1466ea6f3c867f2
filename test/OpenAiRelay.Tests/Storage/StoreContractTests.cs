using OpenAiRelay.Metering;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Tests.Storage;

/// <summary>The same contract on SQLite and on a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StoreContractTests(PostgresServer postgres)
{
    public static TheoryData<string> Engines => StoreTarget.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Migrations_RunTwice_AreAppliedOnce(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres, migrate: false);
        var first = await SchemaMigrator.MigrateAsync(target.Database, TimeProvider.System, default);
        var second = await SchemaMigrator.MigrateAsync(target.Database, TimeProvider.System, default);

        Assert.Equal([1, 2, 3, 4, 5, 6, 7], first);
        Assert.Empty(second);
        await using var connection = await target.Database.OpenAsync(default);
        using var count = target.Database.Command(connection, "SELECT COUNT(*) FROM schema_migrations;");
        Assert.Equal(7L, Convert.ToInt64(await count.ExecuteScalarAsync()));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task AdminAudit_AppendsAndListsSince_OldestFirst(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var audit = new AdminAuditStore(target.Database);
        await audit.AppendAsync(new AdminAuditEntry(UsageRecords.T0, "cli:root", null, "key.created", "alice (rk_live_AbCdEfGh12)"), default);
        await audit.AppendAsync(new AdminAuditEntry(UsageRecords.T0.AddHours(1), "admin-token", "10.0.0.7", "key.revoked", "alice (rk_live_AbCdEfGh12)"), default);

        var all = await audit.ListAsync(null, default);
        Assert.Equal(["key.created", "key.revoked"], all.Select(e => e.Action));
        Assert.Equal(UsageRecords.T0, all[0].At);
        Assert.Null(all[0].Address);
        Assert.Equal("10.0.0.7", all[1].Address);
        Assert.Equal(["key.revoked"], (await audit.ListAsync(UsageRecords.T0.AddMinutes(30), default)).Select(e => e.Action));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Migrations_ConcurrentMigrators_ApplyEachVersionOnce(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres, migrate: false);
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SchemaMigrator.MigrateAsync(target.Database, TimeProvider.System, default)));
        // Each version applied exactly once, by whichever migrator got there first.
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], results.SelectMany(r => r).Order());
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Upsert_SettleAfterOpen_RowIsSettledOnce(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var open = UsageRecords.InFlight("req_1");
        var settled = UsageRecords.Completed(open, input: 1200, output: 300, cost: 360, cached: 200);

        await store.UpsertAsync([open], default);
        Assert.Equal(UsageOutcome.InFlight, (await store.GetAsync("req_1", default))!.Outcome);
        await store.UpsertAsync([settled], default);
        // A retried batch, a second settle with other numbers and a late open must all leave the settled row alone.
        await store.UpsertAsync([settled with { OutputTokens = 999 }], default);
        await store.UpsertAsync([open, settled], default);

        var row = await store.GetAsync("req_1", default);
        Assert.Equal(settled, row);
        var total = Assert.Single(await store.SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Total), default));
        Assert.Equal(1, total.Requests);
        Assert.Equal(300, total.OutputTokens);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Upsert_OpenAndSettleInOneBatch_EndsSettled(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var open = UsageRecords.InFlight("req_batch");
        await store.UpsertAsync([open, UsageRecords.Completed(open, 10, 5, 3)], default);
        Assert.Equal(UsageOutcome.Completed, (await store.GetAsync("req_batch", default))!.Outcome);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Upsert_HostileText_IsStoredVerbatim(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var hostile = UsageRecords.InFlight("req_'; DROP TABLE usage_records; --", model: "x' OR '1'='1");
        await store.UpsertAsync([hostile], default);
        Assert.Equal(hostile, await store.GetAsync(hostile.RequestId, default));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Reconcile_StaleInFlightRows_SettledAsInterruptedOnce(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var prices = PriceTable.Load(null);
        var processStart = UsageRecords.T0.AddMinutes(10);
        var crashed = UsageRecords.InFlight("req_crashed", model: "gpt-4o-mini-2024-07-18", startedAt: UsageRecords.T0, estimate: 1000);
        var unknownModel = UsageRecords.InFlight("req_unknown", model: "not-a-model", startedAt: UsageRecords.T0, estimate: 50);
        var current = UsageRecords.InFlight("req_current", startedAt: processStart.AddSeconds(1));
        await store.UpsertAsync([crashed, unknownModel, current], default);

        Assert.Equal(2, await UsageLedgerReconciler.ReconcileAsync(store, prices, processStart, default));
        Assert.Equal(0, await UsageLedgerReconciler.ReconcileAsync(store, prices, processStart, default));

        var row = (await store.GetAsync("req_crashed", default))!;
        Assert.Equal(UsageOutcome.Interrupted, row.Outcome);
        Assert.True(row.Estimated);
        Assert.Equal(1000, row.InputTokens);
        Assert.Equal(150, row.CostMicros); // 1000 tokens × $0.15 per 1M = 150 micro-dollars.
        Assert.Null((await store.GetAsync("req_unknown", default))!.CostMicros);
        Assert.Equal(UsageOutcome.InFlight, (await store.GetAsync("req_current", default))!.Outcome);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Upsert_RealSettlementAfterReconciliation_ReplacesTheEstimate(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var open = UsageRecords.InFlight("req_alive_elsewhere");
        await store.UpsertAsync([open], default);
        await UsageLedgerReconciler.ReconcileAsync(store, PriceTable.Load(null), UsageRecords.T0.AddHours(1), default);

        var real = UsageRecords.Completed(open, 10, 20, 30);
        await store.UpsertAsync([real], default);
        await store.UpsertAsync([open with { Outcome = UsageOutcome.Interrupted }], default);

        Assert.Equal(real, await store.GetAsync(open.RequestId, default));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Summaries_GroupByKeyModelAndDay(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        var keys = new ClientKeyStore(target.Database);
        await keys.CreateAsync(new StoredClientKey("AbCdEfGh12", "alice", new byte[32], UsageRecords.T0, null, null), default);
        var a = UsageRecords.Completed(UsageRecords.InFlight("r1", startedAt: UsageRecords.T0), 100, 10, 1_500_000);
        var b = UsageRecords.Completed(UsageRecords.InFlight("r2", model: "gpt-4o", startedAt: UsageRecords.T0.AddDays(1)), 200, 20, 2_250_000);
        var c = UsageRecords.Completed(UsageRecords.InFlight("r3", model: "mystery", startedAt: UsageRecords.T0.AddDays(1), keyId: "ZzZzZzZz99"), 300, 30, null) with { Estimated = true };
        await store.UpsertAsync([a, b, c], default);

        var byKey = await store.SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Key), default);
        Assert.Equal(["alice (rk_live_AbCdEfGh12)", "rk_live_ZzZzZzZz99 (rk_live_ZzZzZzZz99)"], byKey.Select(r => r.Group));
        Assert.Equal(3_750_000, byKey[0].CostMicros);
        Assert.Equal(1, byKey[1].UnpricedRequests);
        Assert.Equal(1, byKey[1].EstimatedRequests);

        var byModel = await store.SummarizeAsync(new UsageQuery(null, null, UsageGrouping.Model), default);
        Assert.Equal(["gpt-4o", "gpt-4o-mini", "mystery"], byModel.Select(r => r.Group));

        var byDay = await store.SummarizeAsync(new UsageQuery(UsageRecords.T0.AddHours(1), null, UsageGrouping.Day), default);
        var day = Assert.Single(byDay);
        Assert.Equal("2026-11-21", day.Group);
        Assert.Equal(2, day.Requests);
        Assert.Equal(500, day.InputTokens);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Keys_CreateFindRevoke_NamesUniqueAmongLiveKeys(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var keys = new ClientKeyStore(target.Database);
        var hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var alice = new StoredClientKey("Key0000001", "alice", hash, UsageRecords.T0, UsageRecords.T0.AddDays(30), null);
        await keys.CreateAsync(alice, default);

        await Assert.ThrowsAsync<DuplicateKeyNameException>(() => keys.CreateAsync(alice with { KeyId = "Key0000002" }, default));
        var found = (await keys.FindAsync("Key0000001", default))!;
        Assert.Equal(alice with { SecretHash = found.SecretHash }, found);
        Assert.Equal(hash, found.SecretHash);
        Assert.Null(await keys.FindAsync("Key9999999", default));

        var revoked = Assert.Single(await keys.RevokeAsync("alice", UsageRecords.T0.AddDays(1), default));
        Assert.Equal("Key0000001", revoked.KeyId);
        Assert.Empty(await keys.RevokeAsync("alice", UsageRecords.T0.AddDays(1), default));
        Assert.Equal(UsageRecords.T0.AddDays(1), (await keys.FindAsync("Key0000001", default))!.RevokedAt);

        // Once revoked, the name can be given to a new key; both rows stay for the ledger's history.
        await keys.CreateAsync(alice with { KeyId = "Key0000002" }, default);
        Assert.Single(await keys.RevokeAsync("Key0000002", UsageRecords.T0.AddDays(2), default));
        Assert.Equal(2, (await keys.ListAsync(default)).Count);
        Assert.Equal(2, await keys.CountAllAsync(default));
    }
}

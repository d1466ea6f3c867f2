using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Storage;

/// <summary>
/// The database's own budget reservations (what holds budgets while Redis is down), on SQLite and on a real
/// PostgreSQL: reservations that never exceed what remains under concurrency, released by the ledger row that settles
/// them, and leases that expire unless renewed.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BudgetReservationStoreTests(PostgresServer postgres)
{
    private const string Key = "AbCdEfGh12";
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(90);

    public static TheoryData<string> Engines => StoreTarget.Engines;

    private static DateTimeOffset Period => new(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task FiftyConcurrentReservations_OverTwoConnectionsPools_AgainstABudgetThatCoversFive_MakeFive(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        // Two stores, as two relay instances would have: each its own connections to the one database.
        var stores = new[] { new BudgetReservationStore(target.Database, TimeProvider.System), new BudgetReservationStore(Reopen(target), TimeProvider.System) };

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            stores[i % 2].TryReserveAsync(Key, "req-" + i, 100, 500, Period, s_lease, CancellationToken.None)));

        Assert.Equal(5, results.Count(r => r.Reserved));
        Assert.Equal(500, await stores[0].ReservedAsync(Key, CancellationToken.None));
        // A reservation never exceeded what remained when it was made.
        Assert.All(results.Where(r => r.Reserved), r => Assert.InRange(r.Total, 100, 500));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ALedgerRowThatLandsSettled_ReplacesItsReservation_AtItsOwnCost(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new BudgetReservationStore(target.Database, TimeProvider.System);
        var ledger = new UsageStore(target.Database);
        // Spend of this period counts; spend before it does not.
        await ledger.UpsertAsync([UsageRecords.Completed(UsageRecords.InFlight("old", keyId: Key, startedAt: Period.AddDays(-1)), 10, 10, 999_999)], CancellationToken.None);
        await ledger.UpsertAsync([UsageRecords.Completed(UsageRecords.InFlight("earlier", keyId: Key, startedAt: Period.AddMinutes(1)), 10, 10, 100)], CancellationToken.None);

        Assert.Equal((true, 400L), await store.TryReserveAsync(Key, "req-1", 300, 1_000, Period, s_lease, CancellationToken.None));
        // In flight is not settled: the reservation still counts.
        var open = UsageRecords.InFlight("req-1", keyId: Key, startedAt: DateTimeOffset.UtcNow);
        await ledger.UpsertAsync([open], CancellationToken.None);
        Assert.False((await store.TryReserveAsync(Key, "req-2", 601, 1_000, Period, s_lease, CancellationToken.None)).Reserved);

        // Settled at 120: the 300 reserved are gone and the 120 are in, in one commit.
        await ledger.UpsertAsync([UsageRecords.Completed(open, 100, 100, 120)], CancellationToken.None);
        Assert.Equal(0, await store.ReservedAsync(Key, CancellationToken.None));
        Assert.Equal((true, 1_000L), await store.TryReserveAsync(Key, "req-3", 780, 1_000, Period, s_lease, CancellationToken.None));
        Assert.Equal((false, 1_000L), await store.TryReserveAsync(Key, "req-4", 1, 1_000, Period, s_lease, CancellationToken.None));

        // Another key's budget is its own.
        Assert.True((await store.TryReserveAsync("ZzZzZzZz99", "req-5", 1_000, 1_000, Period, s_lease, CancellationToken.None)).Reserved);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ARowWithoutACost_KeepsItsReservationCounting_UntilThePeriodEnds(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new BudgetReservationStore(target.Database, TimeProvider.System);
        var ledger = new UsageStore(target.Database);
        Assert.True((await store.TryReserveAsync(Key, "req-1", 400, 1_000, Period, TimeSpan.FromSeconds(1), CancellationToken.None)).Reserved);
        await store.UpdateAsync("req-1", 450, Period.AddMonths(1), CancellationToken.None);
        await ledger.UpsertAsync([UsageRecords.Completed(UsageRecords.InFlight("req-1", keyId: Key, startedAt: DateTimeOffset.UtcNow), 100, 100, null)], CancellationToken.None);

        // Past its one-second lease: held to the period's end, at what it was raised to.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal((false, 450L), await store.TryReserveAsync(Key, "req-2", 551, 1_000, Period, s_lease, CancellationToken.None));
        Assert.Equal(450, await store.ReservedAsync(Key, CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ALeaseNotRenewed_Expires_ARenewedOneDoesNot_AndAReleasedOneIsGone(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new BudgetReservationStore(target.Database, TimeProvider.System);
        var shortLease = TimeSpan.FromSeconds(1);
        Assert.True((await store.TryReserveAsync(Key, "killed", 300, 1_000, Period, shortLease, CancellationToken.None)).Reserved);
        Assert.True((await store.TryReserveAsync(Key, "running", 300, 1_000, Period, shortLease, CancellationToken.None)).Reserved);
        Assert.True((await store.TryReserveAsync(Key, "refused-later", 300, 1_000, Period, shortLease, CancellationToken.None)).Reserved);
        await store.ReleaseAsync("refused-later", CancellationToken.None);
        await store.RenewAsync(["running"], s_lease, CancellationToken.None);

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        // The killed relay's 300 are free again; the running request's are not.
        Assert.Equal((true, 1_000L), await store.TryReserveAsync(Key, "next", 700, 1_000, Period, s_lease, CancellationToken.None));
        Assert.Equal(1_000, await store.ReservedAsync(Key, CancellationToken.None));
    }

    private static RelayDatabase Reopen(StoreTarget target) => target.PostgresConnectionString is { } connection
        ? new PostgresRelayDatabase(connection, TimeSpan.FromSeconds(5))
        : new SqliteRelayDatabase(target.Directory.File(RelayDatabaseFactory.SqliteFileName), TimeSpan.FromSeconds(2));
}

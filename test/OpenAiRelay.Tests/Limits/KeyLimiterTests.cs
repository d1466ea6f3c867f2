using Microsoft.Extensions.Time.Testing;
using OpenAiRelay.Limits;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Tests.Limits;

/// <summary>The in-process admission over a key's rate, token, concurrency and budget limits, on a virtual clock.</summary>
public sealed class KeyLimiterTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-04T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly FakeSpendHistory _history = new();

    [Fact]
    public void Rpm_AdmitsAMinutesAllowance_ThenRefusesUntilTheBucketRefills()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { Rpm = 3 };
        for (var i = 0; i < 3; i++)
        {
            var admitted = limiter.Admit("k", policy);
            Assert.Equal(KeyLimiter.AdmissionResult.Admitted, admitted.Result);
            Assert.Equal(2 - i, admitted.RemainingRequests, 6);
            admitted.Lease!.Release();
        }

        var refused = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, refused.Result);
        Assert.Null(refused.Lease);
        Assert.Equal(TimeSpan.FromSeconds(20), refused.RetryAfter);

        // The bucket refills continuously: one request every 20 s, never a second minute's allowance at a boundary.
        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("k", policy).Result);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("k", policy).Result);
        _time.Advance(TimeSpan.FromHours(1));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy).Result);
        }

        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("k", policy).Result);
    }

    [Fact]
    public void ARequestRefusedForConcurrency_DoesNotSpendARequestOfItsMinute()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { Rpm = 2, MaxConcurrent = 1 };
        var held = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, held.Result);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, limiter.Admit("k", policy).Result);
        }

        held.Lease!.Release();
        var second = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, second.Result);
        Assert.Equal(0, second.RemainingRequests, 6);
        second.Lease!.Release();
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("k", policy).Result);
        Assert.Equal(0, limiter.InFlight("k"));
    }

    [Fact]
    public void ASlotReleasedTwice_FreesOnePlace()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { MaxConcurrent = 2 };
        var first = limiter.Admit("k", policy).Lease!;
        var second = limiter.Admit("k", policy).Lease!;
        first.Release();
        first.Release();
        Assert.Equal(1, limiter.InFlight("k"));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, limiter.Admit("k", policy).Result);
        second.Release();
    }

    [Fact]
    public async Task ManyThreadsAtOnce_AdmitExactlyTheLimit()
    {
        var limiter = new KeyLimiter(TimeProvider.System, _history);
        var policy = new KeyPolicy { Rpm = 1_000_000, MaxConcurrent = 5 };
        using var start = new ManualResetEventSlim();
        var results = new KeyLimiter.Admission[64];
        var threads = Enumerable.Range(0, results.Length).Select(i => Task.Factory.StartNew(
            () =>
            {
                start.Wait();
                results[i] = limiter.Admit("k", policy);
            },
            TaskCreationOptions.LongRunning)).ToArray();
        start.Set();
        await Task.WhenAll(threads);

        Assert.Equal(5, results.Count(r => r.Result == KeyLimiter.AdmissionResult.Admitted));
        Assert.Equal(5, limiter.InFlight("k"));
        Parallel.ForEach(results.Where(r => r.Lease is not null), r => r.Lease!.Release());
        Assert.Equal(0, limiter.InFlight("k"));
    }

    [Fact]
    public void KeysAreCountedApart_AndALoweredLimitAppliesAtOnce()
    {
        var limiter = new KeyLimiter(_time, _history);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("a", new KeyPolicy { Rpm = 1 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("b", new KeyPolicy { Rpm = 1 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("a", new KeyPolicy { Rpm = 1 }).Result);

        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 100 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
    }

    [Fact]
    public void Tpm_ReservesTheWorstCase_SettlesToTheRealUsage_AndRefillsContinuously()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { Tpm = 1000 };
        var first = limiter.Admit("k", policy, new KeyLimiter.Demand(600, 0, false));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, first.Result);
        Assert.Equal(400, first.Remaining.Tokens, 6);

        var second = limiter.Admit("k", policy, new KeyLimiter.Demand(600, 0, false));
        Assert.Equal(KeyLimiter.AdmissionResult.TokensLimited, second.Result);
        Assert.Equal(TimeSpan.FromSeconds(12), second.RetryAfter);

        // The first used 100 of its 600: the other 500 come back at once.
        first.Lease!.Settle(100, null);
        var third = limiter.Admit("k", policy, new KeyLimiter.Demand(600, 0, false));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, third.Result);
        Assert.Equal(300, third.Remaining.Tokens, 6);

        // A response longer than its reservation leaves the bucket below zero; it refills from there.
        third.Lease!.Settle(2000, null);
        Assert.Equal(KeyLimiter.AdmissionResult.TokensLimited, limiter.Admit("k", policy, new KeyLimiter.Demand(1, 0, false)).Result);
        // 300 left - 1,400 beyond the reservation = -1,100: 66 s back to zero, one more for a token.
        _time.Advance(TimeSpan.FromSeconds(66));
        Assert.Equal(KeyLimiter.AdmissionResult.TokensLimited, limiter.Admit("k", policy, new KeyLimiter.Demand(1, 0, false)).Result);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy, new KeyLimiter.Demand(1, 0, false)).Result);

        // More than a minute holds can never be admitted: retrying cannot help.
        Assert.Equal(KeyLimiter.AdmissionResult.TokensTooMany, limiter.Admit("k", policy, new KeyLimiter.Demand(1001, 0, false)).Result);
    }

    [Fact]
    public async Task ARequestRefusedByOneLimit_ChargesNoOther()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { Rpm = 10, Tpm = 1000, BudgetMicros = 100 };
        await limiter.PrepareAsync("k", policy, CancellationToken.None);

        // Refused by the budget: no request and no token of the minute spent. Refused by tpm: no budget reserved.
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, limiter.Admit("k", policy, new KeyLimiter.Demand(500, 101, true)).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.TokensTooMany, limiter.Admit("k", policy, new KeyLimiter.Demand(1001, 50, true)).Result);
        Assert.Equal((0L, 0L), limiter.Spend("k", policy));

        var admitted = limiter.Admit("k", policy, new KeyLimiter.Demand(500, 100, true));
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, admitted.Result);
        Assert.Equal(9, admitted.Remaining.Requests, 6);
        Assert.Equal(500, admitted.Remaining.Tokens, 6);
        Assert.Equal((0L, 100L), limiter.Spend("k", policy));
    }

    [Fact]
    public async Task FiftyConcurrentRequests_AgainstABudgetForFive_AdmitFive_AndNeverAPartialReservation()
    {
        var limiter = new KeyLimiter(TimeProvider.System, _history);
        var policy = new KeyPolicy { BudgetMicros = 5_500 };
        await limiter.PrepareAsync("k", policy, CancellationToken.None);
        using var start = new ManualResetEventSlim();
        var results = new KeyLimiter.Admission[50];
        var threads = Enumerable.Range(0, results.Length).Select(i => Task.Factory.StartNew(
            () =>
            {
                start.Wait();
                results[i] = limiter.Admit("k", policy, new KeyLimiter.Demand(0, 1_000, true));
            },
            TaskCreationOptions.LongRunning)).ToArray();
        start.Set();
        await Task.WhenAll(threads);

        Assert.Equal(5, results.Count(r => r.Result == KeyLimiter.AdmissionResult.Admitted));
        Assert.Equal(45, results.Count(r => r.Result == KeyLimiter.AdmissionResult.BudgetExhausted));
        Assert.Equal((0L, 5_000L), limiter.Spend("k", policy));

        // Settled to what they really cost (300 each): the reservations are gone, the costs are in.
        Parallel.ForEach(results.Where(r => r.Lease is not null), r => r.Lease!.Settle(10, 300));
        Assert.Equal((1_500L, 0L), limiter.Spend("k", policy));
        // 4,000 remain: four more reservations of 1,000 fit, a fifth does not.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy, new KeyLimiter.Demand(0, 1_000, true)).Result);
        }

        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, limiter.Admit("k", policy, new KeyLimiter.Demand(0, 1_000, true)).Result);
    }

    [Fact]
    public async Task Spend_IsLoadedFromTheLedgerOncePerPeriod_AndAnUnknownCostChargesTheReservation()
    {
        _history.Spent["k"] = 900;
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { BudgetMicros = 1_000, BudgetPeriod = BudgetPeriod.Day };
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => limiter.PrepareAsync("k", policy, CancellationToken.None).AsTask()));
        Assert.Equal(1, _history.Loads);
        Assert.Equal((900L, 0L), limiter.Spend("k", policy));

        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, limiter.Admit("k", policy, new KeyLimiter.Demand(0, 101, true)).Result);
        var lease = limiter.Admit("k", policy, new KeyLimiter.Demand(0, 60, true)).Lease!;
        lease.Settle(null, null);
        Assert.Equal((960L, 0L), limiter.Spend("k", policy));

        // Requests that are not generations are not held to the budget.
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy, KeyLimiter.Demand.None).Result);

        // A new UTC day: the spend of the day before no longer counts; the ledger is asked again.
        _history.Spent["k"] = 0;
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(KeyLimiter.AdmissionResult.SpendUnknown, limiter.Admit("k", policy, new KeyLimiter.Demand(0, 60, true)).Result);
        await limiter.PrepareAsync("k", policy, CancellationToken.None);
        Assert.Equal(2, _history.Loads);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("k", policy, new KeyLimiter.Demand(0, 1_000, true)).Result);
    }

    [Fact]
    public async Task ASessionChargedPerResponse_IsNotChargedAgainWhenItSettles()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { BudgetMicros = 1_000 };
        await limiter.PrepareAsync("k", policy, CancellationToken.None);
        var lease = limiter.Admit("k", policy, new KeyLimiter.Demand(0, 100, true)).Lease!;
        Assert.True(lease.Charge(0, 300, 1_000));
        Assert.True(lease.Charge(0, 300, 1_000));
        Assert.False(lease.Charge(0, 300, 1_000));
        lease.Settle(0, 950);
        Assert.Equal((950L, 0L), limiter.Spend("k", policy));
    }

    [Fact]
    public async Task ThroughTheInterface_ALeaseSettlesOnce_AndAnUnreadableLedgerIsSpendUnknown()
    {
        var limiter = new KeyLimiter(_time, _history);
        var policy = new KeyPolicy { MaxConcurrent = 1, BudgetMicros = 1_000 };
        var admitted = await limiter.AdmitAsync("k", policy, new KeyLimiter.Demand(0, 100, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, admitted.Result);
        Assert.True(admitted.Lease!.GetType() == typeof(KeyLimiter.Lease) && admitted.Lease.ReservedMicros == 100);
        Assert.True(limiter.AdmitAsync("k", policy, KeyLimiter.Demand.None, CancellationToken.None).IsCompletedSuccessfully);
        Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, (await limiter.AdmitAsync("k", policy, KeyLimiter.Demand.None, CancellationToken.None)).Result);
        await admitted.Lease.SettleAsync(0, 40, CancellationToken.None);
        await admitted.Lease.SettleAsync(0, 40, CancellationToken.None);
        Assert.Equal((40L, 0L), limiter.Spend("k", policy));
        Assert.Null(limiter.Degraded);

        _history.Fail = true;
        var unread = await new KeyLimiter(_time, _history).AdmitAsync("k", policy, new KeyLimiter.Demand(0, 1, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.SpendUnknown, unread.Result);
        Assert.Null(unread.Lease);
    }

    [Fact]
    public void BudgetPeriods_AreUtcCalendarPeriods()
    {
        var now = DateTimeOffset.Parse("2026-12-03T23:30:00-05:00", System.Globalization.CultureInfo.InvariantCulture); // Friday 04:30 UTC
        Assert.Equal(DateTimeOffset.Parse("2026-12-04T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture), BudgetPeriod.Day.Start(now));
        Assert.Equal(DateTimeOffset.Parse("2026-11-30T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture), BudgetPeriod.Week.Start(now));
        Assert.Equal(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture), BudgetPeriod.Month.Start(now));
        Assert.Equal(DateTimeOffset.UnixEpoch, BudgetPeriod.Total.Start(now));
        Assert.Equal(DateTimeOffset.Parse("2027-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture), BudgetPeriod.Month.End(now));
    }

    [Theory]
    [InlineData(0.12, "120ms")]
    [InlineData(1.5, "1.5s")]
    [InlineData(20, "20s")]
    [InlineData(360, "6m0s")]
    [InlineData(61.25, "1m1.25s")]
    public void ResetTimes_AreInOpenAisFormat(double seconds, string expected) =>
        Assert.Equal(expected, KeyLimitStage.ResetText(TimeSpan.FromSeconds(seconds)));

    private sealed class FakeSpendHistory : ISpendHistory
    {
        public Dictionary<string, long> Spent { get; } = [];

        public int Loads { get; private set; }

        public bool Fail { get; set; }

        public async Task<long> SpentSinceAsync(string keyId, DateTimeOffset since, CancellationToken cancellationToken)
        {
            Loads++;
            await Task.Yield();
            if (Fail)
            {
                throw new InvalidOperationException("the ledger is down");
            }

            return Spent.GetValueOrDefault(keyId);
        }
    }
}

using Microsoft.Extensions.Time.Testing;
using OpenAiRelay.Limits;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Tests.Limits;

/// <summary>The in-process admission over a key's rate and concurrency limits, on a virtual clock.</summary>
public sealed class KeyLimiterTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-04T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Rpm_AdmitsAMinutesAllowance_ThenRefusesUntilTheBucketRefills()
    {
        var limiter = new KeyLimiter(_time);
        var policy = new KeyPolicy { Rpm = 3 };
        for (var i = 0; i < 3; i++)
        {
            var admitted = limiter.Admit("k", policy);
            Assert.Equal(KeyLimiter.AdmissionResult.Admitted, admitted.Result);
            Assert.Equal(2 - i, admitted.RemainingRequests, 6);
            admitted.Slot!.Release();
        }

        var refused = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, refused.Result);
        Assert.Null(refused.Slot);
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
        var limiter = new KeyLimiter(_time);
        var policy = new KeyPolicy { Rpm = 2, MaxConcurrent = 1 };
        var held = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, held.Result);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, limiter.Admit("k", policy).Result);
        }

        held.Slot!.Release();
        var second = limiter.Admit("k", policy);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, second.Result);
        Assert.Equal(0, second.RemainingRequests, 6);
        second.Slot!.Release();
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("k", policy).Result);
        Assert.Equal(0, limiter.InFlight("k"));
    }

    [Fact]
    public void ASlotReleasedTwice_FreesOnePlace()
    {
        var limiter = new KeyLimiter(_time);
        var policy = new KeyPolicy { MaxConcurrent = 2 };
        var first = limiter.Admit("k", policy).Slot!;
        var second = limiter.Admit("k", policy).Slot!;
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
        var limiter = new KeyLimiter(TimeProvider.System);
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
        Parallel.ForEach(results.Where(r => r.Slot is not null), r => r.Slot!.Release());
        Assert.Equal(0, limiter.InFlight("k"));
    }

    [Fact]
    public void KeysAreCountedApart_AndALoweredLimitAppliesAtOnce()
    {
        var limiter = new KeyLimiter(_time);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("a", new KeyPolicy { Rpm = 1 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("b", new KeyPolicy { Rpm = 1 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("a", new KeyPolicy { Rpm = 1 }).Result);

        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 100 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.RequestsLimited, limiter.Admit("c", new KeyPolicy { Rpm = 2 }).Result);
    }

    [Theory]
    [InlineData(0.12, "120ms")]
    [InlineData(1.5, "1.5s")]
    [InlineData(20, "20s")]
    [InlineData(360, "6m0s")]
    [InlineData(61.25, "1m1.25s")]
    public void ResetTimes_AreInOpenAisFormat(double seconds, string expected) =>
        Assert.Equal(expected, KeyLimitStage.ResetText(TimeSpan.FromSeconds(seconds)));
}

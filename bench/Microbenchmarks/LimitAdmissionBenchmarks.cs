using BenchmarkDotNet.Attributes;
using OpenAiRelay.Limits;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>
/// What a key with every limit adds to a request in-process: the budget's period check, one atomic admission over
/// concurrency, rpm, tpm and budget, and the settlement that replaces the reservations with the real usage. The issue's
/// target is under 5 µs per request.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class LimitAdmissionBenchmarks
{
    private static readonly KeyPolicy s_policy = new() { Rpm = 1_000_000_000, Tpm = 1_000_000_000, MaxConcurrent = 100_000, BudgetMicros = PolicyValues.MaxBudgetMicros };
    // A clock a minute further on at every reading: the buckets are full again at each admission, however many
    // millions of admissions a second the benchmark makes (far more than any limit here allows a real key).
    private readonly KeyLimiter _limiter = new(new MinuteClock(), new NoSpend());
    private readonly KeyLimiter.Demand _demand = new(4_200, 2_600, true);

    [GlobalSetup]
    public void Setup() => _limiter.PrepareAsync("key", s_policy, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public bool AdmitAndSettle()
    {
        var prepared = _limiter.PrepareAsync("key", s_policy, CancellationToken.None);
        var admission = _limiter.Admit("key", s_policy, _demand);
        admission.Lease!.Settle(60, 30);
        return prepared.IsCompletedSuccessfully;
    }

    private sealed class MinuteClock : TimeProvider
    {
        private long _ticks;

        public override long GetTimestamp() => _ticks += TimestampFrequency * 60;
    }

    private sealed class NoSpend : ISpendHistory
    {
        public Task<long> SpentSinceAsync(string keyId, DateTimeOffset since, CancellationToken cancellationToken) => Task.FromResult(0L);
    }
}

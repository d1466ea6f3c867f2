using System.Collections.Concurrent;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Limits;

/// <summary>
/// The in-process counters of every limited key: a request bucket (<c>rpm</c>, refilled continuously) and the
/// requests in flight (<c>max_concurrent</c>). Admission is one step under the key's lock over both limits: all pass and
/// all are charged, or nothing is (a request refused for concurrency does not spend a request of its minute).
/// </summary>
/// <remarks>
/// Not System.Threading.RateLimiting: its limiters are acquired one at a time, so a request could take a token from
/// one and be refused by the next, and its token bucket refills in steps, which allows a double burst at a boundary.
/// The state is a few fields per key, so the lock is held for nanoseconds.
/// </remarks>
internal sealed class KeyLimiter(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);

    /// <summary>Admits a request of <paramref name="key"/> under <paramref name="policy"/>, or says which limit refused it.</summary>
    public Admission Admit(string key, KeyPolicy policy)
    {
        var state = _keys.GetOrAdd(key, static _ => new KeyState());
        var now = time.GetTimestamp();
        lock (state)
        {
            var tokens = Refill(state, policy.Rpm, now);
            if (policy.MaxConcurrent is { } max && state.InFlight >= max)
            {
                return new Admission(AdmissionResult.ConcurrencyLimited, null, tokens, TimeSpan.FromSeconds(1));
            }

            if (policy.Rpm is { } rpm && tokens < 1)
            {
                var wait = TimeSpan.FromMinutes((1 - tokens) / rpm);
                return new Admission(AdmissionResult.RequestsLimited, null, tokens, wait);
            }

            state.Tokens = tokens - (policy.Rpm is null ? 0 : 1);
            state.InFlight++;
            return new Admission(AdmissionResult.Admitted, new Slot(state), state.Tokens, TimeSpan.Zero);
        }
    }

    /// <summary>Requests in flight for <paramref name="key"/> (for tests and, later, metrics).</summary>
    public int InFlight(string key) => _keys.TryGetValue(key, out var state) ? Volatile.Read(ref state.InFlight) : 0;

    private double Refill(KeyState state, int? rpm, long now)
    {
        if (rpm is not { } limit)
        {
            state.Stamp = now;
            return 0;
        }

        if (state.Stamp == 0)
        {
            // A key seen for the first time (or since a restart) starts with a full minute.
            state.Stamp = now;
            state.Tokens = limit;
            return limit;
        }

        var elapsed = time.GetElapsedTime(state.Stamp, now);
        state.Stamp = now;
        // A lowered limit takes effect at once; a raised one refills towards it. Kept whether or not the request is
        // admitted, since the stamp has moved on.
        state.Tokens = Math.Min(limit, state.Tokens + (elapsed.TotalMinutes * limit));
        return state.Tokens;
    }

    internal sealed class KeyState
    {
        public double Tokens;
        public long Stamp;
        public int InFlight;
    }

    /// <summary>A request's place among its key's in-flight requests; released once, on every path.</summary>
    internal sealed class Slot
    {
        private KeyState? _state;

        internal Slot(KeyState state) => _state = state;

        public void Release()
        {
            if (Interlocked.Exchange(ref _state, null) is { } state)
            {
                lock (state)
                {
                    state.InFlight--;
                }
            }
        }
    }

    internal readonly record struct Admission(AdmissionResult Result, Slot? Slot, double RemainingRequests, TimeSpan RetryAfter);

    internal enum AdmissionResult
    {
        Admitted,
        RequestsLimited,
        ConcurrencyLimited,
    }
}

using System.Collections.Concurrent;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Limits;

/// <summary>
/// The in-process counters of every limited key: a request bucket (<c>rpm</c>) and a token bucket (<c>tpm</c>), both
/// refilled continuously, the requests in flight (<c>max_concurrent</c>), and the budget's settled spend and open
/// reservations. Admission is one step under the key's lock over every limit: all pass and all are charged, or nothing
/// is (a request refused for its budget spends no request or token of its minute).
/// </summary>
/// <remarks>
/// Not System.Threading.RateLimiting: its limiters are acquired one at a time, so a request could take a token from
/// one and be refused by the next, and its token bucket refills in steps, which allows a double burst at a boundary.
/// The state is a few fields per key, so the lock is held for nanoseconds. Spend survives a restart because it is
/// loaded from the ledger (<see cref="PrepareAsync"/>) the first time a key's budget is checked in a period.
/// </remarks>
internal sealed class KeyLimiter(TimeProvider time, ISpendHistory history) : IKeyLimiter
{
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);

    /// <summary>
    /// Makes sure the budget of <paramref name="key"/> knows what was spent in the current period: loaded from the
    /// ledger once per period (concurrent first requests share one load). Call before <see cref="Admit"/> for a
    /// policy with a budget.
    /// </summary>
    /// <exception cref="Exception">The ledger could not be read; the next call tries again.</exception>
    public async ValueTask PrepareAsync(string key, KeyPolicy policy, CancellationToken cancellationToken)
    {
        if (policy.BudgetMicros is null)
        {
            return;
        }

        var state = _keys.GetOrAdd(key, static _ => new KeyState());
        var period = policy.BudgetPeriod.Start(time.GetUtcNow());
        Task<long> load;
        lock (state)
        {
            if (state.SpendPeriod == period)
            {
                return;
            }

            if (state.Loading is not { } loading || state.LoadingPeriod != period || loading.IsFaulted || loading.IsCanceled)
            {
                // Not the request's token: one client leaving must not fail the load the others wait for.
                state.Loading = loading = history.SpentSinceAsync(key, period, CancellationToken.None);
                state.LoadingPeriod = period;
            }

            load = loading;
        }

        var spent = await load.WaitAsync(cancellationToken);
        lock (state)
        {
            if (state.SpendPeriod != period)
            {
                state.SpendPeriod = period;
                state.SpentMicros = spent;
            }
        }
    }

    /// <summary>Never: these are the configured limits, held by this process alone.</summary>
    public string? Degraded => null;

    /// <summary>
    /// <see cref="PrepareAsync"/> then <see cref="Admit(string, KeyPolicy, Demand)"/>, loading again once when the period
    /// turned in between; <see cref="AdmissionResult.SpendUnknown"/> when the ledger could not be read.
    /// </summary>
    public async ValueTask<LimitAdmission> AdmitAsync(string key, KeyPolicy policy, Demand demand, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                await PrepareAsync(key, policy, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                break;
            }

            var admission = Admit(key, policy, demand);
            if (admission.Result != AdmissionResult.SpendUnknown)
            {
                return new LimitAdmission(admission.Result, admission.Lease, admission.Remaining, admission.RetryAfter);
            }
        }

        return new LimitAdmission(AdmissionResult.SpendUnknown, null, new Remaining(double.NaN, double.NaN), TimeSpan.FromSeconds(1));
    }

    /// <summary>Admits a request that reserves nothing (no tokens, no cost): the rate and concurrency limits only.</summary>
    public Admission Admit(string key, KeyPolicy policy) => Admit(key, policy, Demand.None);

    /// <summary>
    /// Admits a request of <paramref name="key"/> under <paramref name="policy"/> with what it may consume at most, or
    /// says which limit refused it. A budget is checked against the spend <see cref="PrepareAsync"/> loaded.
    /// </summary>
    public Admission Admit(string key, KeyPolicy policy, Demand demand)
    {
        var state = _keys.GetOrAdd(key, static _ => new KeyState());
        var now = time.GetTimestamp();
        var period = policy.BudgetMicros is null ? default : policy.BudgetPeriod.Start(time.GetUtcNow());
        lock (state)
        {
            Refill(state, policy, now);
            var remaining = new Remaining(state.Requests, state.Tokens);
            if (policy.MaxConcurrent is { } max && state.InFlight >= max)
            {
                return Refuse(AdmissionResult.ConcurrencyLimited, remaining, TimeSpan.FromSeconds(1));
            }

            if (policy.Rpm is { } rpm && state.Requests < 1)
            {
                return Refuse(AdmissionResult.RequestsLimited, remaining, TimeSpan.FromMinutes((1 - state.Requests) / rpm));
            }

            if (policy.Tpm is { } tpm && demand.Tokens > 0)
            {
                if (demand.Tokens > tpm)
                {
                    return Refuse(AdmissionResult.TokensTooMany, remaining, TimeSpan.Zero);
                }

                if (state.Tokens < demand.Tokens)
                {
                    return Refuse(AdmissionResult.TokensLimited, remaining, TimeSpan.FromMinutes((demand.Tokens - state.Tokens) / tpm));
                }
            }

            var reservedMicros = 0L;
            if (policy.BudgetMicros is { } budget && demand.ChargesBudget)
            {
                if (state.SpendPeriod != period)
                {
                    // PrepareAsync was not called for this period (the period turned in between): refuse rather than guess.
                    return Refuse(AdmissionResult.SpendUnknown, remaining, TimeSpan.FromSeconds(1));
                }

                // Never clamped to what remains: a reservation that does not fit is refused whole, so N concurrent
                // requests against a budget that covers k admit at most k.
                var available = budget - state.SpentMicros - state.ReservedMicros;
                if (available <= 0 || demand.CostMicros > available)
                {
                    return Refuse(AdmissionResult.BudgetExhausted, remaining, TimeSpan.Zero);
                }

                reservedMicros = demand.CostMicros;
                state.ReservedMicros += reservedMicros;
            }

            if (policy.Rpm is not null)
            {
                state.Requests -= 1;
            }

            var reservedTokens = policy.Tpm is null ? 0 : demand.Tokens;
            state.Tokens -= reservedTokens;
            state.InFlight++;
            var lease = new Lease(state, reservedTokens, reservedMicros, demand.ChargesBudget && policy.BudgetMicros is not null, period);
            return new Admission(AdmissionResult.Admitted, lease, new Remaining(state.Requests, state.Tokens), TimeSpan.Zero);
        }
    }

    /// <summary>Requests in flight for <paramref name="key"/> (for tests and, later, metrics).</summary>
    public int InFlight(string key) => _keys.TryGetValue(key, out var state) ? Volatile.Read(ref state.InFlight) : 0;

    /// <summary>
    /// What <paramref name="key"/> has spent in the current period of <paramref name="policy"/>, settled and reserved,
    /// as this process knows it; null when its spend has not been loaded in this period.
    /// </summary>
    public (long Spent, long Reserved)? Spend(string key, KeyPolicy policy)
    {
        if (policy.BudgetMicros is null || !_keys.TryGetValue(key, out var state))
        {
            return null;
        }

        lock (state)
        {
            return state.SpendPeriod == policy.BudgetPeriod.Start(time.GetUtcNow()) ? (state.SpentMicros, state.ReservedMicros) : null;
        }
    }

    private static Admission Refuse(AdmissionResult result, Remaining remaining, TimeSpan retryAfter) => new(result, null, remaining, retryAfter);

    private void Refill(KeyState state, KeyPolicy policy, long now)
    {
        var elapsed = state.Stamp == 0 ? TimeSpan.Zero : time.GetElapsedTime(state.Stamp, now);
        state.Stamp = now;
        state.Requests = Refill(state.Requests, policy.Rpm, elapsed);
        state.Tokens = Refill(state.Tokens, policy.Tpm, elapsed);
    }

    /// <summary>
    /// A bucket <paramref name="elapsed"/> later: a limit seen for the first time (or since a restart) starts full; a
    /// lowered limit takes effect at once; a raised one refills towards it. A token bucket may be below zero when
    /// responses used more than their reservations: it then refills from there.
    /// </summary>
    private static double Refill(double level, int? limit, TimeSpan elapsed) => limit switch
    {
        null => double.NaN,
        { } full when double.IsNaN(level) => full,
        { } full => Math.Min(full, level + (elapsed.TotalMinutes * full)),
    };

    /// <summary>What a request may consume at most: tokens of its minute and micro-dollars of its key's budget.</summary>
    /// <param name="Tokens">Input plus output tokens reserved against <c>tpm</c>; 0 when the request generates nothing.</param>
    /// <param name="CostMicros">Its worst-case cost, reserved against the budget.</param>
    /// <param name="ChargesBudget">A generation: checked against the budget and settled into its spend.</param>
    internal readonly record struct Demand(long Tokens, long CostMicros, bool ChargesBudget)
    {
        /// <summary>
        /// The id of the ledger row the request settles into: a reservation the database holds is released by that
        /// row (null for a caller without one: the reservation then lasts its lease).
        /// </summary>
        public string? RequestId { get; init; }

        public static readonly Demand None = new(0, 0, false);
    }

    /// <summary>What a key had left right after this admission: requests and tokens of its buckets (NaN without the limit).</summary>
    internal readonly record struct Remaining(double Requests, double Tokens);

    internal sealed class KeyState
    {
        public double Requests = double.NaN;
        public double Tokens = double.NaN;
        public long Stamp;
        public int InFlight;
        public DateTimeOffset? SpendPeriod;
        public long SpentMicros;
        public long ReservedMicros;
        public Task<long>? Loading;
        public DateTimeOffset LoadingPeriod;
    }

    /// <summary>
    /// A request's place among its key's in-flight requests and what it reserved; settled (or released) once, on every
    /// path: the slot is freed, the reservation is replaced by what the request really used, in one step under the key's
    /// lock, so no other request can see the reservation gone before the cost is in.
    /// </summary>
    internal sealed class Lease : ILimitLease
    {
        private readonly long _reservedTokens;
        private readonly long _reservedMicros;
        private readonly bool _chargesBudget;
        private readonly DateTimeOffset _period;
        private KeyState? _state;
        private long _chargedTokens;
        private long _chargedMicros;

        internal Lease(KeyState state, long reservedTokens, long reservedMicros, bool chargesBudget, DateTimeOffset period)
        {
            _state = state;
            _reservedTokens = reservedTokens;
            _reservedMicros = reservedMicros;
            _chargesBudget = chargesBudget;
            _period = period;
        }

        public long ReservedMicros => _reservedMicros;

        /// <summary>
        /// Frees the slot and settles the reservations to what was used: <paramref name="tokens"/> (null keeps the
        /// token reservation spent) and <paramref name="costMicros"/> (null, a cost the relay could not know, charges the
        /// whole reservation: unknown is never free).
        /// </summary>
        public void Settle(long? tokens, long? costMicros)
        {
            if (Interlocked.Exchange(ref _state, null) is not { } state)
            {
                return;
            }

            lock (state)
            {
                state.InFlight--;
                // What a session's responses already charged (Charge) is part of its total, not added to it again.
                if (!double.IsNaN(state.Tokens))
                {
                    state.Tokens += _reservedTokens - Math.Max(0, (tokens ?? Math.Max(_reservedTokens, _chargedTokens)) - _chargedTokens);
                }

                if (_chargesBudget)
                {
                    state.ReservedMicros -= _reservedMicros;
                    // A request that began in an earlier period is that period's spend, as the ledger counts it (by start).
                    if (state.SpendPeriod == _period)
                    {
                        state.SpentMicros += Math.Max(0, (costMicros ?? Math.Max(_reservedMicros, _chargedMicros)) - _chargedMicros);
                    }
                }
            }
        }

        /// <summary>
        /// Adds what one response of a long session (a WebSocket) cost, while the session goes on; returns false when
        /// the key's budget is then used up, so the session should end.
        /// </summary>
        public bool Charge(long tokens, long costMicros, long budgetMicros)
        {
            if (Volatile.Read(ref _state) is not { } state)
            {
                return true;
            }

            lock (state)
            {
                _chargedTokens += tokens;
                if (!double.IsNaN(state.Tokens))
                {
                    state.Tokens -= tokens;
                }

                if (!_chargesBudget)
                {
                    return true;
                }

                _chargedMicros += costMicros;
                if (state.SpendPeriod == _period)
                {
                    state.SpentMicros += costMicros;
                }

                return state.SpentMicros + state.ReservedMicros < budgetMicros;
            }
        }

        /// <summary>
        /// Takes the admission back, for a request another limit refused after all: the slot, the request and the
        /// tokens it took return as if it had never been admitted (a bucket no fuller than its limit).
        /// </summary>
        public void Undo(KeyPolicy policy)
        {
            if (Interlocked.Exchange(ref _state, null) is not { } state)
            {
                return;
            }

            lock (state)
            {
                state.InFlight--;
                if (policy.Rpm is { } rpm && !double.IsNaN(state.Requests))
                {
                    state.Requests = Math.Min(rpm, state.Requests + 1);
                }

                if (policy.Tpm is { } tpm && !double.IsNaN(state.Tokens))
                {
                    state.Tokens = Math.Min(tpm, state.Tokens + _reservedTokens);
                }

                if (_chargesBudget)
                {
                    state.ReservedMicros -= _reservedMicros;
                }
            }
        }

        /// <summary>Frees the slot with nothing known of what was used (the reservations count as spent).</summary>
        public void Release() => Settle(null, null);

        /// <summary>In process: done before it returns.</summary>
        public ValueTask SettleAsync(long? tokens, long? costMicros, CancellationToken cancellationToken)
        {
            Settle(tokens, costMicros);
            return ValueTask.CompletedTask;
        }
    }

    internal readonly record struct Admission(AdmissionResult Result, Lease? Lease, Remaining Remaining, TimeSpan RetryAfter)
    {
        public double RemainingRequests => Remaining.Requests;
    }

    internal enum AdmissionResult
    {
        Admitted,
        ConcurrencyLimited,
        RequestsLimited,
        TokensLimited,

        /// <summary>The request alone needs more tokens than a minute holds: retrying cannot help.</summary>
        TokensTooMany,
        BudgetExhausted,

        /// <summary>The budget's spend for this period is not loaded (the period turned between prepare and admit).</summary>
        SpendUnknown,
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;
using StackExchange.Redis;

namespace OpenAiRelay.Limits;

/// <summary>
/// Per-key limits every relay instance shares through one Redis (<c>REDIS_URL</c>): the same request and token
/// buckets, in-flight count and budget as <see cref="KeyLimiter"/>, admitted in ONE Lua script over every limit (all
/// pass and all are charged, or none) and settled in one. Time is Redis's own (<c>TIME</c>), never an instance's clock.
/// </summary>
/// <remarks>
/// <para>Per key, all under the hash tag <c>{key}</c> so a cluster keeps them on one shard: <c>rq</c> and <c>tk</c>
/// (bucket level and the microsecond it was computed at), <c>slots</c> (a sorted set of lease ids scored by lease
/// expiry), <c>spend:{periodStartUnix}</c> (settled micro-dollars of the period, loaded from the ledger when missing:
/// the script answers "need spend", this instance reads <see cref="ISpendHistory"/> and sets it with <c>SET NX</c>, then
/// admits again), <c>rsv</c> (lease id → reserved micro-dollars) and <c>rsvx</c> (lease id → expiry). Expired slots and
/// reservations are dropped inside the admission script.</para>
/// <para>A lease lives <see cref="RedisOptions.LeaseDuration"/> and is renewed every
/// <see cref="RedisOptions.HeartbeatInterval"/> while its request runs, so a long stream keeps its slot and a relay that
/// was killed frees its slots and reservations within one lease.</para>
/// <para>Redis unreachable at admission: the rate and concurrency limits are held by the in-process limiter, each
/// instance its share, and budgets by reservations in the database (<see cref="BudgetReservationStore"/>), exact
/// across instances; never none. A warning at most every 30 s and a <c>/readyz</c> detail say so; the next admission
/// tries Redis again. A lease admitted through Redis that cannot be settled there is left to expire.</para>
/// </remarks>
internal sealed partial class RedisKeyLimiter : IKeyLimiter, IAsyncDisposable
{
    private const string KeyPrefix = "relay:limits:";
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(30);

    /// <summary>How long a settlement may wait for a Redis that does not answer: the lease's expiry does the rest.</summary>
    private static readonly TimeSpan s_settleTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Longer than the ledger writer takes to land a settled row (its batch window, a commit).</summary>
    private static readonly TimeSpan s_ledgerLanding = TimeSpan.FromSeconds(1);

    // KEYS: rq, tk, slots, spend, rsv, rsvx. ARGV: rpm, tpm, max_concurrent (0: none), budget (-1: none), charges
    // budget (1/0), demand tokens, demand micros, lease id, lease micros. Returns {code, requests left, tokens left,
    // retry ms, spent + reserved}; code 0 admitted, 1 concurrency, 2 requests, 3 tokens, 4 tokens too many, 5 budget,
    // 6 spend not loaded. Nothing is written unless every limit passes.
    private static readonly LuaScript s_admit = LuaScript.Prepare(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local rpm, tpm, max = tonumber(@rpm), tonumber(@tpm), tonumber(@max)
        local budget, charges = tonumber(@budget), @charges == '1'
        local dtok, dmic, lease = tonumber(@tokens), tonumber(@micros), @lease
        local expiry = now + tonumber(@leaseMicros)
        local function level(key, full)
          if full <= 0 then return nil end
          local v = redis.call('HMGET', key, 'l', 't')
          if not v[1] then return full end
          local elapsed = math.max(0, now - tonumber(v[2]))
          return math.min(full, tonumber(v[1]) + elapsed * full / 60000000)
        end
        local function num(x) if x == nil then return '' end return string.format('%.17g', x) end
        local rq, tk = level(@rq, rpm), level(@tk, tpm)
        local function refuse(code, wait) return {code, num(rq), num(tk), math.ceil(wait), ''} end
        redis.call('ZREMRANGEBYSCORE', @slots, '-inf', now)
        if max > 0 and redis.call('ZCARD', @slots) >= max then return refuse(1, 1000) end
        if rq ~= nil and rq < 1 then return refuse(2, (1 - rq) / rpm * 60000) end
        if tk ~= nil and dtok > 0 then
          if dtok > tpm then return refuse(4, 0) end
          if tk < dtok then return refuse(3, (dtok - tk) / tpm * 60000) end
        end
        local total = ''
        local budgeted = budget >= 0 and charges
        if budgeted then
          local spent = redis.call('GET', @spend)
          if not spent then return refuse(6, 0) end
          local expired = redis.call('ZRANGEBYSCORE', @rsvx, '-inf', now)
          for _, id in ipairs(expired) do redis.call('HDEL', @rsv, id) end
          redis.call('ZREMRANGEBYSCORE', @rsvx, '-inf', now)
          local reserved = 0
          for _, v in ipairs(redis.call('HVALS', @rsv)) do reserved = reserved + tonumber(v) end
          local available = budget - tonumber(spent) - reserved
          if available <= 0 or dmic > available then return refuse(5, 0) end
          total = num(tonumber(spent) + reserved + dmic)
        end
        if rq ~= nil then
          rq = rq - 1
          redis.call('HSET', @rq, 'l', num(rq), 't', now)
          redis.call('PEXPIRE', @rq, 3600000)
        end
        if tk ~= nil then
          tk = tk - dtok
          redis.call('HSET', @tk, 'l', num(tk), 't', now)
          redis.call('PEXPIRE', @tk, 3600000)
        end
        redis.call('ZADD', @slots, expiry, lease)
        local keep = 3600000 + math.floor(tonumber(@leaseMicros) / 1000)
        redis.call('PEXPIRE', @slots, keep)
        if budgeted then
          redis.call('HSET', @rsv, lease, dmic)
          redis.call('ZADD', @rsvx, expiry, lease)
          redis.call('PEXPIRE', @rsv, keep)
          redis.call('PEXPIRE', @rsvx, keep)
        end
        return {0, num(rq), num(tk), 0, total}
        """);

    // Frees the slot, drops the reservation, adds the cost to the admission period's spend (when it is loaded) and
    // gives back the tokens not used (when the bucket exists): one step, so no admission sees one without the other.
    // Once per lease: the marker `done` (kept one lease) makes a repeated settlement, and a renewal that arrives after
    // it, change nothing.
    private static readonly LuaScript s_settle = LuaScript.Prepare(
        """
        if not redis.call('SET', @done, '1', 'NX', 'PX', tonumber(@leaseMillis)) then return 0 end
        redis.call('ZREM', @slots, @lease)
        redis.call('HDEL', @rsv, @lease)
        redis.call('ZREM', @rsvx, @lease)
        if @micros ~= '' and tonumber(@micros) ~= 0 and redis.call('EXISTS', @spend) == 1 then
          redis.call('INCRBY', @spend, @micros)
        end
        if tonumber(@tokens) ~= 0 and redis.call('EXISTS', @tk) == 1 then
          redis.call('HINCRBYFLOAT', @tk, 'l', @tokens)
        end
        return 1
        """);

    // One response of a session: its tokens and cost in at once; returns spent + reserved for the budget's verdict.
    private static readonly LuaScript s_charge = LuaScript.Prepare(
        """
        if tonumber(@tokens) ~= 0 and redis.call('EXISTS', @tk) == 1 then
          redis.call('HINCRBYFLOAT', @tk, 'l', -tonumber(@tokens))
        end
        if @micros == '' or redis.call('EXISTS', @spend) == 0 then return '' end
        local spent = redis.call('INCRBY', @spend, @micros)
        local reserved = 0
        for _, v in ipairs(redis.call('HVALS', @rsv)) do reserved = reserved + tonumber(v) end
        return string.format('%.17g', spent + reserved)
        """);

    // Pushes a running request's slot and reservation expiry out by one lease, from Redis's clock, and puts them back
    // when Redis lost them (a restart without persistence): requests still running count again at the next beat.
    // Nothing for a lease already settled.
    private static readonly LuaScript s_renew = LuaScript.Prepare(
        """
        if redis.call('EXISTS', @done) == 1 then return 0 end
        local t = redis.call('TIME')
        local expiry = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(@leaseMicros)
        local keep = 3600000 + math.floor(tonumber(@leaseMicros) / 1000)
        redis.call('ZADD', @slots, expiry, @lease)
        redis.call('PEXPIRE', @slots, keep)
        if @budgeted == '1' then
          redis.call('HSETNX', @rsv, @lease, @micros)
          redis.call('ZADD', @rsvx, expiry, @lease)
          redis.call('PEXPIRE', @rsv, keep)
          redis.call('PEXPIRE', @rsvx, keep)
        end
        return 1
        """);

    // Registers this instance as live for one lease (Redis's clock), drops the expired ones, and counts the live: the
    // number each instance divides the rate and concurrency limits by while Redis is down.
    private static readonly LuaScript s_register = LuaScript.Prepare(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        redis.call('ZREMRANGEBYSCORE', @instances, '-inf', now)
        redis.call('ZADD', @instances, now + tonumber(@leaseMicros), @instance)
        return redis.call('ZCARD', @instances)
        """);

    private static readonly RedisKey s_instances = KeyPrefix + "instances";

    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly IConnectionMultiplexer _redis;
    private readonly KeyLimiter _fallback;
    private readonly BudgetReservationStore _budgets;
    private readonly ISpendHistory _history;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _leaseMicros;
    private readonly ConcurrentDictionary<string, Lease> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DatabaseBudgetLease> _openInDatabase = new(StringComparer.Ordinal);

    // Spend counters in Redis that miss what was settled through the database while Redis was down: dropped when it
    // answers again, so the next admission reloads them from the ledger.
    private readonly ConcurrentDictionary<string, RedisKey> _staleSpend = new(StringComparer.Ordinal);
    private readonly TimeSpan _leaseDuration;
    private readonly ConcurrentDictionary<string, Lazy<Task<long>>> _loads = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _heartbeat;
    private long _lastWarning;
    private int _disposed;
    private volatile string? _degraded;
    private volatile int _liveInstances = 1;

    public RedisKeyLimiter(
        IConnectionMultiplexer redis, KeyLimiter fallback, BudgetReservationStore budgets, ISpendHistory history, TimeProvider time, IOptions<RedisOptions> options, ILogger<RedisKeyLimiter> logger)
    {
        _redis = redis;
        _fallback = fallback;
        _budgets = budgets;
        _leaseDuration = options.Value.LeaseDuration;
        _history = history;
        _time = time;
        _logger = logger;
        _leaseMicros = (long)(options.Value.LeaseDuration.TotalMilliseconds * 1000);
        _heartbeat = HeartbeatAsync(options.Value.HeartbeatInterval, _stopping.Token);
    }

    public string? Degraded => _degraded;

    /// <summary>Relay instances that renewed their registration within the last lease, as Redis last said (at least 1).</summary>
    public int LiveInstances => _liveInstances;

    /// <summary>Requests of <paramref name="key"/> this instance holds open through Redis (for tests).</summary>
    public int OpenLeases(string key) => _open.Values.Count(lease => lease.Key == key);

    /// <summary>Connects to <paramref name="url"/> in the background: the relay starts (and limits locally) without Redis.</summary>
    public static ConnectionMultiplexer Connect(string url)
    {
        if (!RedisUrl.TryParse(url, out var options, out var error))
        {
            throw new InvalidOperationException(error);
        }

        return ConnectionMultiplexer.Connect(options!);
    }

    public async ValueTask<LimitAdmission> AdmitAsync(string key, KeyPolicy policy, KeyLimiter.Demand demand, CancellationToken cancellationToken)
    {
        if (_degraded is not null && !_redis.IsConnected)
        {
            // Known down and not reconnected yet: no round trip to fail first.
            return await AdmitWithoutRedisAsync(key, policy, demand, cancellationToken);
        }

        try
        {
            var admission = await AdmitSharedAsync(key, policy, demand, cancellationToken);
            Recovered();
            return admission;
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            Failed(e);
            return await AdmitWithoutRedisAsync(key, policy, demand, cancellationToken);
        }
    }

    /// <summary>Requests of <paramref name="key"/> this instance holds open with a reservation in the database (for tests).</summary>
    public int OpenDatabaseLeases(string key) => _openInDatabase.Values.Count(lease => lease.Key == key);

    /// <summary>Whether this instance will still drop <paramref name="key"/>'s Redis spend counter after an outage (for tests).</summary>
    public bool DropsSpendCounter(string key) => _staleSpend.ContainsKey(key);

    /// <summary>
    /// While Redis is down: this instance's share of the rate and concurrency limits in process, then the budget in
    /// the database, which every instance checks against the same ledger and reservations (exact across instances).
    /// A reservation the database refuses takes the in-process admission back; a database that does not answer
    /// either leaves a key with a budget refused (503), never unlimited.
    /// </summary>
    private async ValueTask<LimitAdmission> AdmitWithoutRedisAsync(string key, KeyPolicy policy, KeyLimiter.Demand demand, CancellationToken cancellationToken)
    {
        if (policy.BudgetMicros is not { } budget || !demand.ChargesBudget)
        {
            return await _fallback.AdmitAsync(key, Share(policy), demand, cancellationToken);
        }

        var shared = Share(policy) with { BudgetMicros = null };
        var local = await _fallback.AdmitAsync(key, shared, demand, cancellationToken);
        if (local.Result != KeyLimiter.AdmissionResult.Admitted)
        {
            return local;
        }

        var inner = (KeyLimiter.Lease)local.Lease!;
        var leaseId = demand.RequestId ?? Guid.NewGuid().ToString("N");
        var now = _time.GetUtcNow();
        var period = policy.BudgetPeriod.Start(now);
        bool reserved;
        long total;
        try
        {
            (reserved, total) = await _budgets.TryReserveAsync(key, leaseId, demand.CostMicros, budget, period, _leaseDuration, cancellationToken);
        }
#pragma warning disable CA1031 // Whatever stopped the database (down, timed out, the client left), nothing was reserved.
        catch (Exception)
#pragma warning restore CA1031
        {
            inner.Undo(shared);
            cancellationToken.ThrowIfCancellationRequested();
            return new LimitAdmission(KeyLimiter.AdmissionResult.SpendUnknown, null, local.Remaining, TimeSpan.FromSeconds(1));
        }

        if (!reserved)
        {
            inner.Undo(shared);
            return new LimitAdmission(KeyLimiter.AdmissionResult.BudgetExhausted, null, local.Remaining, TimeSpan.Zero);
        }

        _staleSpend[key] = new KeyNames(key).Spend(period);
        var lease = new DatabaseBudgetLease(this, key, leaseId, inner, demand.CostMicros, total, policy.BudgetPeriod.End(now));
        _openInDatabase[leaseId] = lease;
        return new LimitAdmission(KeyLimiter.AdmissionResult.Admitted, lease, local.Remaining, TimeSpan.Zero);
    }

    /// <summary>
    /// This instance's share of the rate and concurrency limits while Redis is down: each limit divided by the live
    /// instances Redis last counted, rounded up, so the instances together allow about the limit, not N times it.
    /// Budgets are not divided: the database holds them for every instance (<see cref="AdmitWithoutRedisAsync"/>).
    /// </summary>
    internal KeyPolicy Share(KeyPolicy policy)
    {
        var instances = _liveInstances;
        return instances <= 1
            ? policy
            : policy with { Rpm = Divide(policy.Rpm, instances), Tpm = Divide(policy.Tpm, instances), MaxConcurrent = Divide(policy.MaxConcurrent, instances) };

        static int? Divide(int? limit, int instances) => limit is { } value ? (value + instances - 1) / instances : null;
    }

    /// <summary>Stops renewing leases (the container disposes it under both of its registrations: once is enough).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _heartbeat;
        }
        catch (OperationCanceledException)
        {
        }

        try
        {
            // A relay that stops leaves the count at once; one that is killed leaves it when its registration expires.
            await _redis.GetDatabase().SortedSetRemoveAsync(s_instances, _instance).WaitAsync(TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
        }

        _stopping.Dispose();
    }

    private async Task<LimitAdmission> AdmitSharedAsync(string key, KeyPolicy policy, KeyLimiter.Demand demand, CancellationToken cancellationToken)
    {
        var db = _redis.GetDatabase();
        var names = new KeyNames(key);
        var budgeted = policy.BudgetMicros is not null && demand.ChargesBudget;
        var period = budgeted ? policy.BudgetPeriod.Start(_time.GetUtcNow()) : default;
        RedisKey spend = names.Spend(period);
        var leaseId = Guid.NewGuid().ToString("N");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            // Not cancelled by the client: an admission Redis made must reach a lease that settles it (the wait is
            // bounded by the Redis client's timeout), or its slot would be held for a whole lease.
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(s_admit, new
            {
                rq = names.Requests,
                tk = names.Tokens,
                slots = names.Slots,
                spend,
                rsv = names.Reservations,
                rsvx = names.ReservationExpiry,
                rpm = policy.Rpm ?? 0,
                tpm = policy.Tpm ?? 0,
                max = policy.MaxConcurrent ?? 0,
                budget = policy.BudgetMicros ?? -1,
                charges = demand.ChargesBudget ? "1" : "0",
                tokens = policy.Tpm is null ? 0 : demand.Tokens,
                micros = demand.CostMicros,
                lease = leaseId,
                leaseMicros = _leaseMicros,
            }))!;
            var code = (int)result[0];
            var remaining = new KeyLimiter.Remaining(Number((string?)result[1]), Number((string?)result[2]));
            if (code == 6)
            {
                if (!await LoadSpendAsync(db, key, spend, policy, period, cancellationToken))
                {
                    break;
                }

                continue;
            }

            var outcome = code switch
            {
                0 => KeyLimiter.AdmissionResult.Admitted,
                1 => KeyLimiter.AdmissionResult.ConcurrencyLimited,
                2 => KeyLimiter.AdmissionResult.RequestsLimited,
                3 => KeyLimiter.AdmissionResult.TokensLimited,
                4 => KeyLimiter.AdmissionResult.TokensTooMany,
                _ => KeyLimiter.AdmissionResult.BudgetExhausted,
            };
            if (outcome != KeyLimiter.AdmissionResult.Admitted)
            {
                return new LimitAdmission(outcome, null, remaining, TimeSpan.FromMilliseconds((long)result[3]));
            }

            var lease = new Lease(this, key, leaseId, spend, policy.Tpm is null ? 0 : demand.Tokens, budgeted ? demand.CostMicros : 0, budgeted, Number((string?)result[4]));
            _open[leaseId] = lease;
            return new LimitAdmission(outcome, lease, remaining, TimeSpan.Zero);
        }

        return new LimitAdmission(KeyLimiter.AdmissionResult.SpendUnknown, null, new KeyLimiter.Remaining(double.NaN, double.NaN), TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// Sets the period's spend from the ledger unless another instance already did (<c>SET NX</c>); false when the
    /// ledger could not be read. A settlement that lands between the read and the set is lost to the counter (at most
    /// the requests settling in that moment), never double counted.
    /// </summary>
    private async Task<bool> LoadSpendAsync(IDatabase db, string key, RedisKey spend, KeyPolicy policy, DateTimeOffset period, CancellationToken cancellationToken)
    {
        long spent;
        try
        {
            // Concurrent first requests of a key share one read of the ledger. Not the request's token for the read
            // itself: a client leaving only stops waiting.
            var name = spend.ToString();
            var load = _loads.GetOrAdd(name, _ => new Lazy<Task<long>>(() => _history.SpentSinceAsync(key, period, CancellationToken.None)));
            try
            {
                spent = await load.Value.WaitAsync(cancellationToken);
            }
            finally
            {
                // Done (or no longer awaited here): the next missing counter is read afresh.
                _loads.TryRemove(new KeyValuePair<string, Lazy<Task<long>>>(name, load));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        // Kept a week past the period's end, for settlements of requests that began in it.
        var end = policy.BudgetPeriod.End(_time.GetUtcNow());
        TimeSpan? expiry = end is { } last ? last - _time.GetUtcNow() + TimeSpan.FromDays(7) : null;
        await db.StringSetAsync(spend, spent, expiry, When.NotExists).WaitAsync(cancellationToken);
        return true;
    }

    private async Task HeartbeatAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, _time);
        await RegisterAsync();
        var evictionChecked = await CheckEvictionAsync();
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            if (!_openInDatabase.IsEmpty)
            {
                try
                {
                    await _budgets.RenewAsync(_openInDatabase.Keys.ToList(), _leaseDuration, cancellationToken);
                }
#pragma warning disable CA1031 // The database is down too: its reservations expire unless a later beat renews them.
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    LogDatabaseBudgetFailed(_logger, e.GetType().Name);
                }
            }

            var db = _redis.GetDatabase();
            try
            {
                if (_degraded is not null)
                {
                    // Recovery shows in /readyz without waiting for the next request.
                    await db.PingAsync();
                    Recovered();
                }

                await RegisterAsync();
                evictionChecked = evictionChecked || await CheckEvictionAsync();

                await Task.WhenAll(_open.Values.Select(lease => db.ScriptEvaluateAsync(s_renew, new
                {
                    done = lease.Names.Done(lease.Id),
                    rsv = lease.Names.Reservations,
                    budgeted = lease.ChargesBudget ? "1" : "0",
                    micros = lease.ReservedMicros,
                    slots = lease.Names.Slots,
                    rsvx = lease.Names.ReservationExpiry,
                    lease = lease.Id,
                    leaseMicros = _leaseMicros,
                })));
            }
            catch (Exception e) when (IsRedisFailure(e))
            {
                Failed(e);
            }
        }
    }

    /// <summary>
    /// Warns once when Redis may evict keys (a <c>maxmemory</c> with a policy other than <c>noeviction</c>): an evicted
    /// bucket or spend counter resets a limit. Read from <c>INFO memory</c>, which managed Redis services allow where
    /// <c>CONFIG</c> is refused; a Redis that refuses it too is not warned about. False while Redis does not answer, so the check runs again.
    /// </summary>
    private async Task<bool> CheckEvictionAsync()
    {
        try
        {
            // Through a script: the client itself refuses INFO outside its admin mode, which the relay does not ask for.
            var info = (string?)await _redis.GetDatabase().ScriptEvaluateAsync("return redis.call('INFO', 'memory')") ?? string.Empty;
            var fields = info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(':', 2))
                .Where(pair => pair.Length == 2)
                .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
            var limited = fields.TryGetValue("maxmemory", out var max) && max != "0";
            if (limited && fields.TryGetValue("maxmemory_policy", out var policy) && policy != "noeviction")
            {
                LogEvictionPolicy(_logger, policy);
            }

            return true;
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            return false;
        }
#pragma warning disable CA1031 // A Redis that will not say (a restricted command set): nothing to warn about, and not worth a retry.
        catch (Exception)
#pragma warning restore CA1031
        {
            return true;
        }
    }

    /// <summary>Renews this instance's registration and reads how many are live; a failure keeps the last count.</summary>
    private async Task RegisterAsync()
    {
        try
        {
            var live = (long)await _redis.GetDatabase().ScriptEvaluateAsync(s_register, new { instances = s_instances, instance = _instance, leaseMicros = _leaseMicros });
            _liveInstances = (int)Math.Clamp(live, 1, 10_000);
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            // Down: the count Redis gave last is the best there is (and the share the fallback divides by).
        }
    }

    private static bool IsRedisFailure(Exception e) => e is RedisException or TimeoutException or ObjectDisposedException;

    private static double Number(string? text) =>
        string.IsNullOrEmpty(text) ? double.NaN : double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    private void Failed(Exception e)
    {
        _degraded = $"degraded: Redis (REDIS_URL) does not answer; until it does, each of the {_liveInstances} live instance(s) holds 1/{_liveInstances} of every rate and concurrency limit, and budgets are held through the database";
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastWarning);
        if ((last == 0 || _time.GetElapsedTime(last, now) >= s_warningInterval) && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            LogRedisUnavailable(_logger, e.GetType().Name, e.Message);
        }
    }

    private void Recovered()
    {
        if (_degraded is not null)
        {
            _degraded = null;
            LogRedisRestored(_logger);
        }

        if (!_staleSpend.IsEmpty)
        {
            _ = DropStaleSpendAsync();
        }
    }

    /// <summary>
    /// Drops the Redis spend counters of keys that spent through the database while Redis was down, once those
    /// requests' ledger rows have had time to land: the next admission loads them from the ledger again. A counter of
    /// a request still running through the database is dropped again when it settles.
    /// </summary>
    private async Task DropStaleSpendAsync()
    {
        try
        {
            await Task.Delay(s_ledgerLanding, _time, _stopping.Token);
            foreach (var (key, spend) in _staleSpend)
            {
                if (_openInDatabase.Values.Any(lease => lease.Key == key))
                {
                    continue;
                }

                _staleSpend.TryRemove(new KeyValuePair<string, RedisKey>(key, spend));
                await _redis.GetDatabase().KeyDeleteAsync(spend);
            }
        }
        catch (Exception e) when (IsRedisFailure(e) || e is OperationCanceledException)
        {
            // Still down, or stopping: the next recovery tries again.
        }
    }

    [LoggerMessage(EventId = 1100, EventName = "LimitsRedisUnavailable", Level = LogLevel.Warning,
        Message = "PER-KEY LIMITS ARE NOT SHARED: Redis (REDIS_URL) does not answer ({Error}: {Detail}); until it answers again, each relay instance holds its share of rpm, tpm and max_concurrent (the limit divided by the live instances Redis last counted) and budgets through reservations in the database (exact across instances; keys with a budget are refused with 503 if the database does not answer either)")]
    private static partial void LogRedisUnavailable(ILogger logger, string error, string detail);

    [LoggerMessage(EventId = 1101, EventName = "LimitsRedisRestored", Level = LogLevel.Warning, Message = "Redis (REDIS_URL) answers again: per-key limits are shared across instances")]
    private static partial void LogRedisRestored(ILogger logger);

    [LoggerMessage(EventId = 1102, EventName = "LimitsRedisSettleFailed", Level = LogLevel.Debug, Message = "A lease could not be settled in Redis ({Error}); its slot and reservation expire with the lease")]
    private static partial void LogSettleFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 1104, EventName = "LimitsRedisMayEvict", Level = LogLevel.Warning,
        Message = "Redis (REDIS_URL) has a maxmemory with maxmemory-policy {Policy}: under memory pressure it may evict a key's counters, which resets that limit; set maxmemory-policy noeviction for the relay's Redis")]
    private static partial void LogEvictionPolicy(ILogger logger, string policy);

    [LoggerMessage(EventId = 1103, EventName = "LimitsDatabaseBudgetFailed", Level = LogLevel.Warning,
        Message = "A budget reservation held in the database could not be renewed or updated ({Error}); it keeps what it last held until its lease expires")]
    private static partial void LogDatabaseBudgetFailed(ILogger logger, string error);

    internal readonly struct KeyNames(string key)
    {
        private readonly string _prefix = KeyPrefix + "{" + key + "}:";

        public RedisKey Requests => _prefix + "rq";

        public RedisKey Tokens => _prefix + "tk";

        public RedisKey Slots => _prefix + "slots";

        public RedisKey Reservations => _prefix + "rsv";

        public RedisKey ReservationExpiry => _prefix + "rsvx";

        /// <summary>Set when a lease is settled, for one lease: its settlement and renewals happen once, or not again.</summary>
        public RedisKey Done(string lease) => _prefix + "done:" + lease;

        public RedisKey Spend(DateTimeOffset periodStart) => _prefix + "spend:" + periodStart.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A request's slot and reservations in Redis. A session's charges go to Redis in order, in the background; the
    /// verdict on the budget is taken from the last total Redis reported plus what this lease charged since, so the
    /// session's frame reader never waits on the network. Settlement waits for those charges first.
    /// </summary>
    private sealed class Lease(RedisKeyLimiter owner, string key, string id, RedisKey spend, long reservedTokens, long reservedMicros, bool chargesBudget, double total) : ILimitLease
    {
        private readonly Lock _gate = new();
        private Task _charges = Task.CompletedTask;
        private long _chargedTokens;
        private long _chargedMicros;
        private double _sharedTotal = total;
        private long _unconfirmedMicros;
        private int _settled;

        public string Key => key;

        public string Id => id;

        public KeyNames Names { get; } = new(key);

        public long ReservedMicros => reservedMicros;

        public bool ChargesBudget => chargesBudget;

        public bool Charge(long tokens, long costMicros, long budgetMicros)
        {
            if (Volatile.Read(ref _settled) != 0)
            {
                return true;
            }

            lock (_gate)
            {
                _chargedTokens += tokens;
                var micros = chargesBudget ? costMicros : 0;
                _chargedMicros += micros;
                _unconfirmedMicros += micros;
                _charges = _charges.ContinueWith(_ => SendChargeAsync(tokens, micros), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                return !chargesBudget || double.IsNaN(_sharedTotal) || _sharedTotal + _unconfirmedMicros < budgetMicros;
            }
        }

        public async ValueTask SettleAsync(long? tokens, long? costMicros, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _settled, 1) != 0)
            {
                return;
            }

            owner._open.TryRemove(id, out _);
            Task charges;
            long chargedTokens, chargedMicros;
            lock (_gate)
            {
                charges = _charges;
                chargedTokens = _chargedTokens;
                chargedMicros = _chargedMicros;
            }

            // What a session's responses already charged is part of its total, not added to it again.
            var refund = reservedTokens - Math.Max(0, (tokens ?? Math.Max(reservedTokens, chargedTokens)) - chargedTokens);
            var micros = chargesBudget ? Math.Max(0, (costMicros ?? Math.Max(reservedMicros, chargedMicros)) - chargedMicros) : 0;
            try
            {
                await charges.WaitAsync(s_settleTimeout, cancellationToken);
                await owner._redis.GetDatabase().ScriptEvaluateAsync(s_settle, new
                {
                    done = Names.Done(id),
                    leaseMillis = owner._leaseMicros / 1000,
                    slots = Names.Slots,
                    rsv = Names.Reservations,
                    rsvx = Names.ReservationExpiry,
                    spend,
                    tk = Names.Tokens,
                    lease = id,
                    micros = chargesBudget ? micros.ToString(CultureInfo.InvariantCulture) : string.Empty,
                    tokens = refund,
                }).WaitAsync(s_settleTimeout, cancellationToken);
            }
            catch (Exception e) when (IsRedisFailure(e) || e is OperationCanceledException)
            {
                // Best effort: the lease stops being renewed, so its slot and reservation expire on their own.
                LogSettleFailed(owner._logger, e.GetType().Name);
            }
        }

        private async Task SendChargeAsync(long tokens, long micros)
        {
            try
            {
                var reply = await owner._redis.GetDatabase().ScriptEvaluateAsync(s_charge, new
                {
                    tk = Names.Tokens,
                    spend,
                    rsv = Names.Reservations,
                    tokens,
                    micros = chargesBudget ? micros.ToString(CultureInfo.InvariantCulture) : string.Empty,
                });
                var shared = Number((string?)reply);
                lock (_gate)
                {
                    _unconfirmedMicros -= micros;
                    if (!double.IsNaN(shared))
                    {
                        _sharedTotal = shared;
                    }
                }
            }
            catch (Exception e) when (IsRedisFailure(e))
            {
                // Kept as unconfirmed: the verdict stays on the safe side; the settlement adds the rest.
                LogSettleFailed(owner._logger, e.GetType().Name);
            }
        }
    }

    /// <summary>
    /// A request admitted while Redis was down: its slot and tokens in the in-process limiter, its budget reservation
    /// in the database. Settling frees the slot; the reservation is released by the request's own ledger row when it
    /// lands, or, when the cost is unknown, held to the period's end. A session's responses raise the reservation as
    /// they pass it, so other instances see what the session spent.
    /// </summary>
    private sealed class DatabaseBudgetLease(RedisKeyLimiter owner, string key, string id, KeyLimiter.Lease inner, long reservedMicros, long total, DateTimeOffset? periodEnd) : ILimitLease
    {
        private static readonly DateTimeOffset s_never = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);
        private readonly Lock _gate = new();
        private Task _updates = Task.CompletedTask;
        private long _chargedMicros;
        private int _settled;

        public string Key => key;

        public long ReservedMicros => reservedMicros;

        public bool Charge(long tokens, long costMicros, long budgetMicros)
        {
            inner.Charge(tokens, 0, long.MaxValue);
            if (Volatile.Read(ref _settled) != 0)
            {
                return true;
            }

            lock (_gate)
            {
                // As in process: what the session spent counts beside its reservation until it ends.
                _chargedMicros += costMicros;
                var counted = reservedMicros + _chargedMicros;
                _updates = _updates.ContinueWith(_ => UpdateAsync(counted, null), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                return total + _chargedMicros < budgetMicros;
            }
        }

        public async ValueTask SettleAsync(long? tokens, long? costMicros, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _settled, 1) != 0)
            {
                return;
            }

            inner.Settle(tokens, 0);
            Task updates;
            long charged;
            lock (_gate)
            {
                updates = _updates;
                charged = _chargedMicros;
            }

            try
            {
                await updates.WaitAsync(s_settleTimeout, cancellationToken);
                if (costMicros is null)
                {
                    // Unknown is never free: the reservation (or what the session spent, if more) stays spent.
                    await UpdateAsync(Math.Max(reservedMicros, charged), periodEnd ?? s_never);
                }
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                LogSettleFailed(owner._logger, e.GetType().Name);
            }
            finally
            {
                // Renewed no more: the ledger row lands well within the lease that is left.
                owner._openInDatabase.TryRemove(id, out _);
            }

            if (owner._degraded is null && owner._staleSpend.TryGetValue(key, out _))
            {
                // Redis came back while this request ran: its counter misses this cost until it is reloaded.
                _ = owner.DropStaleSpendAsync();
            }
        }

        private async Task UpdateAsync(long micros, DateTimeOffset? until)
        {
            try
            {
                await owner._budgets.UpdateAsync(id, micros, until, CancellationToken.None);
            }
#pragma warning disable CA1031 // The database is down too: the reservation keeps what it last held, never less.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogDatabaseBudgetFailed(owner._logger, e.GetType().Name);
            }
        }
    }
}

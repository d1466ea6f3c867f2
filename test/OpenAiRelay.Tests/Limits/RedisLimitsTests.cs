using System.Net;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Limits;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using StackExchange.Redis;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Limits;

/// <summary>
/// Two relays sharing one Redis (<c>REDIS_URL</c>) and one ledger (the same SQLite data directory) hold a key to one
/// limit, not two: a real redis-server on loopback, keys made through one relay's admin API and used through both.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RedisLimitsTests(PostgresServer postgres) : IAsyncLifetime
{
    public static TheoryData<string> Engines => StoreTarget.Engines;

    /// <summary>1,000 input and 1,000 output tokens of gpt-4o-mini: 150 + 600 = 750 micro-dollars.</summary>
    private const string ThousandEach = """{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}""";

    private readonly string _data = Path.Combine(Path.GetTempPath(), "openai-relay-test-" + Guid.NewGuid().ToString("N"));
    private FakeOpenAiServer _fake = null!;
    private RedisServer _redis = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _redis = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _fake.DisposeAsync();
        if (Directory.Exists(_data))
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_data, recursive: true);
        }
    }

    [Fact]
    public async Task Rpm_SplitOverTwoRelays_AdmitsTheAllowanceOnce()
    {
        await using var pair = await StartPairAsync();
        var (a, b) = (pair.A, pair.B);
        var (key, _) = await CreateKeyAsync(a, new { name = "shared-rpm", rpm = 4 });
        var test = Guid.NewGuid().ToString("N");

        var statuses = new List<HttpStatusCode>();
        var remaining = new List<string?>();
        for (var i = 0; i < 8; i++)
        {
            using var client = (i % 2 == 0 ? a : b).CreateClient(key);
            using var response = await client.SendAsync(Chat(test)).DefaultTimeout();
            statuses.Add(response.StatusCode);
            remaining.Add(Header(response, "x-ratelimit-remaining-requests"));
        }

        Assert.Equal(4, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(4, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        // The headers count the one shared bucket, whichever relay answered.
        Assert.Equal(["3", "2", "1", "0", "0", "0", "0", "0"], remaining);
        Assert.Equal(4, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        Assert.Null(a.Services.GetRequiredService<IKeyLimiter>().Degraded);
    }

    [Fact]
    public async Task MaxConcurrent_HeldByStreamsOnOneRelay_RefusesOnTheOther_UntilTheyEnd()
    {
        await using var pair = await StartPairAsync();
        var (a, b) = (pair.A, pair.B);
        var (key, _) = await CreateKeyAsync(a, new { name = "shared-slots", max_concurrent = 2 });
        var test = Guid.NewGuid().ToString("N");
        using var clientA = a.CreateClient(key);
        using var clientB = b.CreateClient(key);

        var streams = new List<HttpResponseMessage>();
        for (var i = 0; i < 2; i++)
        {
            var request = KeyLimitsTests.Chat(test, stream: true);
            request.Headers.Add("x-fake-events", "10");
            request.Headers.Add("x-fake-event-interval-ms", "100");
            var response = await clientA.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            streams.Add(response);
        }

        using (var refused = await clientB.SendAsync(Chat(test)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Contains("concurrent", (await ErrorAsync(refused)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        foreach (var stream in streams)
        {
            var events = await SseReader.ReadEventsAsync(await stream.Content.ReadAsStreamAsync()).DefaultTimeout();
            Assert.Equal("data: [DONE]", events[^1].Text);
            stream.Dispose();
        }

        var limiterA = a.Services.GetRequiredService<RedisKeyLimiter>();
        await WaitUntilAsync(() => limiterA.OpenLeases(KeyId(key)) == 0);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, key, Chat(test)));
        Assert.Equal(3, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Fact]
    public async Task AClientThatLeavesMidStream_FreesItsSharedSlot()
    {
        await using var pair = await StartPairAsync();
        var (a, b) = (pair.A, pair.B);
        var (key, _) = await CreateKeyAsync(a, new { name = "leaving", max_concurrent = 1 });
        var test = Guid.NewGuid().ToString("N");
        using var client = a.CreateClient(key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var slots = KeyPrefix(key) + "slots";

        var stalled = KeyLimitsTests.Chat(test, stream: true);
        stalled.Headers.Add("x-fake-stall-after", "1");
        using (var leaving = new CancellationTokenSource())
        {
            var response = await client.SendAsync(stalled, HttpCompletionOption.ResponseHeadersRead, leaving.Token).DefaultTimeout();
            Assert.Equal(1, redis.GetDatabase().SortedSetLength(slots));
            Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(b, key, Chat(test)));
            await leaving.CancelAsync();
            response.Dispose();
        }

        // Settled with a token the abort does not cancel: the slot is gone from Redis, not left to its lease.
        await WaitUntilAsync(() => redis.GetDatabase().SortedSetLength(slots) == 0);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, key, Chat(test)));
    }

    [Fact]
    public async Task FiftyConcurrentRequests_SplitOverTwoRelays_AgainstABudgetThatCoversFive_AdmitFive()
    {
        await using var pair = await StartPairAsync();
        var (a, b) = (pair.A, pair.B);
        // As BudgetTests: each request reserves just over 60,000 micro-dollars (max_tokens 100,000 at the output
        // price), so $0.33 holds five reservations and not six.
        var (key, _) = await CreateKeyAsync(a, new { name = "shared-budget", budget_usd = 0.33m });
        var test = Guid.NewGuid().ToString("N");

        var responses = await FiftyBudgetedRequestsAsync(a, b, key, test);

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(45, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal("insufficient_quota", JsonDocument.Parse(r.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
        });
        Assert.Equal(5, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));

        // Settled in Redis to what the five really cost, the same figure the shared ledger holds.
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var spend = KeyPrefix(key) + "spend:" + BudgetPeriod.Month.Start(DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var db = redis.GetDatabase();
        await WaitUntilAsync(() => (long)db.StringGet(spend) == 3_750 && db.HashLength(KeyPrefix(key) + "rsv") == 0);
        var store = a.Services.GetRequiredService<UsageStore>();
        await WaitUntilAsync(() => store.SpentSinceAsync(KeyId(key), DateTimeOffset.UnixEpoch, CancellationToken.None).Result == 3_750);
    }

    [Fact]
    public async Task ALeaseWhoseProcessVanished_ExpiresWithItsSlotAndReservation_WhileARenewedOneDoesNot()
    {
        var options = Options.Create(new RedisOptions { LeaseDuration = TimeSpan.FromSeconds(2), HeartbeatInterval = TimeSpan.FromSeconds(0.25) });
        var history = new ZeroSpend();
        var policy = new KeyPolicy { MaxConcurrent = 1, BudgetMicros = 1_000 };
        var demand = new KeyLimiter.Demand(0, 800, true);
        var key = "vanish" + Guid.NewGuid().ToString("N")[..8];

        await using var redisA = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        await using var redisB = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var a = new RedisKeyLimiter(redisA, new KeyLimiter(TimeProvider.System, history), await BudgetsAsync(), history, TimeProvider.System, options, NullLogger<RedisKeyLimiter>.Instance);
        await using var b = new RedisKeyLimiter(redisB, new KeyLimiter(TimeProvider.System, history), await BudgetsAsync(), history, TimeProvider.System, options, NullLogger<RedisKeyLimiter>.Instance);

        var held = await a.AdmitAsync(key, policy, demand, CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, held.Result);
        // Longer than a lease: the heartbeat keeps a running request's slot.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, (await b.AdmitAsync(key, policy, demand, CancellationToken.None)).Result);

        // The process holding it vanishes without settling: its lease is no longer renewed.
        await a.DisposeAsync();
        var started = DateTime.UtcNow;
        LimitAdmission next;
        while ((next = await b.AdmitAsync(key, policy, demand, CancellationToken.None)).Result != KeyLimiter.AdmissionResult.Admitted)
        {
            // Refused for the slot until it lapses; the reservation lapses with it (800 + 800 would not fit 1,000).
            Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, next.Result);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(6), "the vanished lease did not expire");
            await Task.Delay(100);
        }

        Assert.Null(b.Degraded);
        await next.Lease!.SettleAsync(0, 100, CancellationToken.None);
        await next.Lease.SettleAsync(0, 100, CancellationToken.None);
        // Settled once: 100 spent, nothing reserved, the slot free.
        var again = await b.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 900, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, again.Result);
        await again.Lease!.SettleAsync(null, null, CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, (await b.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 1, true), CancellationToken.None)).Result);
    }

    [Fact]
    public async Task TheScripts_KeepTheInProcessSemantics_OfTokensBudgetsAndSessionCharges()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var history = new ZeroSpend();
        await using var limiter = new RedisKeyLimiter(redis, new KeyLimiter(TimeProvider.System, history), await BudgetsAsync(), history, TimeProvider.System, Options.Create(new RedisOptions()), NullLogger<RedisKeyLimiter>.Instance);
        var key = "semantics" + Guid.NewGuid().ToString("N")[..8];
        var prefix = "relay:limits:{" + key + "}:";
        var db = redis.GetDatabase();
        var policy = new KeyPolicy { Rpm = 10, Tpm = 1000, BudgetMicros = 100 };

        // Refused by the budget: no request and no token of the minute spent. Refused by tpm: no budget reserved.
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(500, 101, true), CancellationToken.None)).Result);
        Assert.Equal(KeyLimiter.AdmissionResult.TokensTooMany, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(1001, 50, true), CancellationToken.None)).Result);
        var first = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(500, 60, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, first.Result);
        Assert.InRange(first.Remaining.Requests, 9, 9.1);
        Assert.InRange(first.Remaining.Tokens, 500, 501);
        Assert.Equal(60, (long)await db.HashGetAsync(prefix + "rsv", (await db.HashKeysAsync(prefix + "rsv")).Single()));

        // 40 remain: a reservation of 41 is refused whole, never clamped.
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(1, 41, true), CancellationToken.None)).Result);

        // Settled to 100 tokens and 50 micro-dollars: 400 tokens back, the reservation replaced by the cost.
        await first.Lease!.SettleAsync(100, 50, CancellationToken.None);
        var spend = prefix + "spend:" + BudgetPeriod.Month.Start(DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        Assert.Equal(50, (long)await db.StringGetAsync(spend));
        Assert.Equal(0, await db.HashLengthAsync(prefix + "rsv"));
        Assert.Equal(0, await db.SortedSetLengthAsync(prefix + "slots"));

        // A session: 50 reserved, so spend + reservations stand at the budget; its first response (1) spends it.
        var session = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(800, 50, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, session.Result);
        Assert.InRange(session.Remaining.Tokens, 100, 102);
        Assert.False(session.Lease!.Charge(10, 1, 100));
        await session.Lease.SettleAsync(10, 30, CancellationToken.None);
        // Charged once: 50 + 1 at the response + the 29 the settlement adds, not 50 + 1 + 30.
        Assert.Equal(80, (long)await db.StringGetAsync(spend));
        Assert.Equal(0, await db.HashLengthAsync(prefix + "rsv"));

        // A response longer than its reservation leaves the token bucket below zero; it refills from there.
        var tokens = new KeyPolicy { Tpm = 1000 };
        var tkey = key + "t";
        var greedy = await limiter.AdmitAsync(tkey, tokens, new KeyLimiter.Demand(600, 0, false), CancellationToken.None);
        await greedy.Lease!.SettleAsync(2_000, null, CancellationToken.None);
        var refused = await limiter.AdmitAsync(tkey, tokens, new KeyLimiter.Demand(1, 0, false), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.TokensLimited, refused.Result);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(61));
        Assert.InRange(refused.Remaining.Tokens, -1_000, -999);
    }

    [Fact]
    public async Task RedisStoppedMidTest_EachRelayHoldsItsShare_SaysSo_AndSharesAgainWhenRedisReturns()
    {
        await using var pair = await StartPairAsync(new() { ["Relay:Redis:HeartbeatInterval"] = "00:00:00.5", ["Relay:Redis:LeaseDuration"] = "00:00:05" });
        var (a, b) = (pair.A, pair.B);
        var (key, _) = await CreateKeyAsync(a, new { name = "through-an-outage", rpm = 4 });
        var test = Guid.NewGuid().ToString("N");
        foreach (var relay in new[] { a, b, a, b })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(a, key, Chat(test)));
        // Both relays have registered with Redis and counted each other.
        await WaitUntilAsync(() => new[] { a, b }.All(relay => relay.Services.GetRequiredService<RedisKeyLimiter>().LiveInstances == 2));

        await _redis.StopAsync();
        // Never unlimited, and not twice the limit: each of the two relays holds half of rpm 4 on its own.
        foreach (var relay in new[] { a, b })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
            Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(relay, key, Chat(test)));
            var warnings = relay.Logs.Entries.Where(e => e.EventId.Id == 1100).ToList();
            Assert.Single(warnings);
            Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warnings[0].Level);
            var ready = await ReadyAsync(relay);
            Assert.Equal("ready", ready.GetProperty("status").GetString());
            Assert.StartsWith("degraded", ready.GetProperty("limits").GetString(), StringComparison.Ordinal);
            Assert.Contains("1/2", ready.GetProperty("limits").GetString(), StringComparison.Ordinal);
        }

        // Redis comes back (empty, as after a crash): both relays notice without a request and share again.
        await _redis.StartAgainAsync();
        foreach (var relay in new[] { a, b })
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while ((await ReadyAsync(relay)).TryGetProperty("limits", out _))
            {
                Assert.True(DateTime.UtcNow < deadline, "readyz still degraded after Redis returned");
                await Task.Delay(100);
            }

            Assert.Contains(relay.Logs.Entries, e => e.EventId.Id == 1101);
        }

        // Redis lost its counters: the shared bucket starts full again, and is one bucket for both.
        foreach (var relay in new[] { a, b, a, b })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, Chat(test)));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(a, key, Chat(test)));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(b, key, Chat(test)));
        Assert.Equal(12, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task RedisDown_FiftyConcurrentRequests_SplitOverTwoRelays_AgainstABudgetThatCoversFive_AdmitFive_ThroughTheDatabase(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var settings = new Dictionary<string, string?>(target.Settings) { ["Relay:Redis:HeartbeatInterval"] = "00:00:00.5" };
        settings.Remove("Relay:Storage:DataDirectory");
        await using var pair = await StartPairAsync(settings);
        var (a, b) = (pair.A, pair.B);
        var (key, _) = await CreateKeyAsync(a, new { name = "budget-through-an-outage", budget_usd = 0.33m });
        var test = Guid.NewGuid().ToString("N");
        await WaitUntilAsync(() => new[] { a, b }.All(relay => relay.Services.GetRequiredService<RedisKeyLimiter>().LiveInstances == 2));

        await _redis.StopAsync();
        var responses = await FiftyBudgetedRequestsAsync(a, b, key, test);

        // Not five per relay: the database holds one budget for both.
        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal("insufficient_quota", JsonDocument.Parse(r.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
        });
        Assert.Equal(5, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        Assert.Contains("through the database", (await ReadyAsync(a)).GetProperty("limits").GetString(), StringComparison.Ordinal);

        // Each ledger row released its own reservation: 3,750 spent, nothing held.
        var budgets = a.Services.GetRequiredService<BudgetReservationStore>();
        var ledger = a.Services.GetRequiredService<UsageStore>();
        await WaitUntilAsync(() => budgets.ReservedAsync(KeyId(key), CancellationToken.None).Result == 0
            && ledger.SpentSinceAsync(KeyId(key), DateTimeOffset.UnixEpoch, CancellationToken.None).Result == 3_750);
        Assert.Equal(0, a.Services.GetRequiredService<RedisKeyLimiter>().OpenDatabaseLeases(KeyId(key)));

        // Redis returns: its counter starts from the ledger, outage included.
        await _redis.StartAgainAsync();
        await WaitUntilAsync(() => a.Services.GetRequiredService<IKeyLimiter>().Degraded is null);
        // Both relays spent through the database and drop the key's counter a moment after Redis returns (so that it
        // reloads with every outage row); a counter loaded before that drop is reloaded at the next admission.
        await WaitUntilAsync(() => new[] { a, b }.All(relay => !relay.Services.GetRequiredService<RedisKeyLimiter>().DropsSpendCounter(KeyId(key))));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(a, key, Chat(test, maxTokens: 10, usage: ThousandEach)));
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var spend = KeyPrefix(key) + "spend:" + BudgetPeriod.Month.Start(DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        await WaitUntilAsync(() => (long)redis.GetDatabase().StringGet(spend) == 4_500);
    }

    [Fact]
    public async Task ARedisThatLostItsData_GetsTheRunningLeasesBackAtTheNextBeat_AndNeverASettledOne()
    {
        var options = Options.Create(new RedisOptions { LeaseDuration = TimeSpan.FromSeconds(30), HeartbeatInterval = TimeSpan.FromSeconds(0.25) });
        var history = new ZeroSpend();
        var admin = ConfigurationOptions.Parse($"127.0.0.1:{_redis.Port}");
        admin.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(admin);
        await using var limiter = new RedisKeyLimiter(redis, new KeyLimiter(TimeProvider.System, history), await BudgetsAsync(), history, TimeProvider.System, options, NullLogger<RedisKeyLimiter>.Instance);
        var policy = new KeyPolicy { MaxConcurrent = 2, BudgetMicros = 1_000 };
        var key = "flushed" + Guid.NewGuid().ToString("N")[..8];
        var prefix = "relay:limits:{" + key + "}:";
        var db = redis.GetDatabase();

        var running = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 400, true), CancellationToken.None);
        var settled = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 400, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, running.Result);
        await settled.Lease!.SettleAsync(0, 100, CancellationToken.None);

        await redis.GetServer(redis.GetEndPoints()[0]).FlushAllDatabasesAsync();
        // The next beat puts the running request's slot and reservation back; the settled one stays gone.
        await WaitUntilAsync(() => db.SortedSetLength(prefix + "slots") == 1 && db.HashLength(prefix + "rsv") == 1);
        Assert.Equal(400, (long)db.HashValues(prefix + "rsv")[0]);
        await Task.Delay(TimeSpan.FromSeconds(0.6));
        Assert.Equal(1, db.SortedSetLength(prefix + "slots"));

        // So the budget counts it: spend reloads from the ledger, and 400 of the 1,000 are still held.
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 601, true), CancellationToken.None)).Result);
        var fits = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 600, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, fits.Result);
        Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, (await limiter.AdmitAsync(key, policy, KeyLimiter.Demand.None, CancellationToken.None)).Result);

        // The re-registered lease settles like any other: its cost in, its slot and reservation out.
        await running.Lease!.SettleAsync(0, 50, CancellationToken.None);
        await fits.Lease!.SettleAsync(0, 60, CancellationToken.None);
        var spend = prefix + "spend:" + BudgetPeriod.Month.Start(DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        Assert.Equal(110, (long)db.StringGet(spend));
        Assert.Equal(0, db.SortedSetLength(prefix + "slots"));
        Assert.Equal(0, db.HashLength(prefix + "rsv"));
    }

    [Fact]
    public async Task ARedisThatMayEvictKeys_IsNamedInAWarningAtStartUp()
    {
        var admin = ConfigurationOptions.Parse($"127.0.0.1:{_redis.Port}");
        admin.AllowAdmin = true;
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(admin))
        {
            var server = redis.GetServer(redis.GetEndPoints()[0]);
            await server.ConfigSetAsync("maxmemory", "100mb");
            await server.ConfigSetAsync("maxmemory-policy", "allkeys-lru");
        }

        await using var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Redis:Url"] = _redis.Url });
        await WaitUntilAsync(() => relay.Logs.Entries.Any(e => e.EventId.Id == 1104));
        Assert.Contains("allkeys-lru", relay.Logs.Entries.First(e => e.EventId.Id == 1104).Message, StringComparison.Ordinal);

        // The default (no maxmemory) evicts nothing: no warning.
        await using var defaults = await RedisServer.StartAsync();
        await using var quiet = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Redis:Url"] = defaults.Url });
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        Assert.DoesNotContain(quiet.Logs.Entries, e => e.EventId.Id == 1104);
    }

    [Fact]
    public async Task WithoutRedis_ASessionsCharges_RaiseItsDatabaseReservation_AndEndItOnceTheBudgetIsSpent()
    {
        var unreachable = ConfigurationOptions.Parse("127.0.0.1:1");
        unreachable.AbortOnConnectFail = false;
        unreachable.ConnectTimeout = 200;
        await using var down = await ConnectionMultiplexer.ConnectAsync(unreachable);
        var history = new ZeroSpend();
        var budgets = await BudgetsAsync();
        await using var limiter = new RedisKeyLimiter(down, new KeyLimiter(TimeProvider.System, history), budgets, history, TimeProvider.System, Options.Create(new RedisOptions()), NullLogger<RedisKeyLimiter>.Instance);
        var policy = new KeyPolicy { BudgetMicros = 1_000, MaxConcurrent = 1 };
        const string key = "session-key";

        var session = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 300, true) { RequestId = "ws-1" }, CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, session.Result);
        Assert.NotNull(limiter.Degraded);
        Assert.Equal(1, limiter.OpenDatabaseLeases(key));

        // A response of 200 while the session goes on: in the database at once, where every instance sees it.
        Assert.True(session.Lease!.Charge(10, 200, 1_000));
        await WaitUntilAsync(() => budgets.ReservedAsync(key, CancellationToken.None).Result == 500);
        // Refused for its slot first, and nothing of the budget taken by that refusal.
        Assert.Equal(KeyLimiter.AdmissionResult.ConcurrencyLimited, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 1, true), CancellationToken.None)).Result);
        Assert.Equal(500, await budgets.ReservedAsync(key, CancellationToken.None));

        // The response that spends the budget ends the session.
        Assert.False(session.Lease.Charge(10, 500, 1_000));
        // Its cost never became known: what it spent (700, more than its 300 reserved) stays held as spent.
        await session.Lease.SettleAsync(20, null, CancellationToken.None);
        Assert.Equal(700, await budgets.ReservedAsync(key, CancellationToken.None));
        Assert.Equal(0, limiter.OpenDatabaseLeases(key));
        Assert.Equal(KeyLimiter.AdmissionResult.BudgetExhausted, (await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 301, true), CancellationToken.None)).Result);
        var fits = await limiter.AdmitAsync(key, policy, new KeyLimiter.Demand(0, 300, true), CancellationToken.None);
        Assert.Equal(KeyLimiter.AdmissionResult.Admitted, fits.Result);
        await fits.Lease!.SettleAsync(0, 0, CancellationToken.None);
    }

    [Fact]
    public async Task RedisAndTheDatabaseDown_AKeyWithABudgetIsRefused503_NeverUnlimited()
    {
        await using var target = await StoreTarget.CreateAsync(StoreTarget.Postgres, postgres);
        var settings = new Dictionary<string, string?>(target.Settings);
        settings.Remove("Relay:Storage:DataDirectory");
        await using var pair = await StartPairAsync(settings);
        var (key, _) = await CreateKeyAsync(pair.A, new { name = "budget-without-stores", budget_usd = 5 });
        var test = Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(pair.A, key, Chat(test, maxTokens: 10)));
        // Its row on disk first: a ledger write failing after the database closes would refuse everything (503
        // ledger_unavailable) before the limits are asked.
        var ledger = pair.A.Services.GetRequiredService<UsageStore>();
        await WaitUntilAsync(() => ledger.SpentSinceAsync(KeyId(key), DateTimeOffset.UnixEpoch, CancellationToken.None).Result > 0);

        await _redis.StopAsync();
        var database = new Npgsql.NpgsqlConnectionStringBuilder(target.PostgresConnectionString).Database;
        await using (var admin = new Npgsql.NpgsqlConnection(postgres.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var close = new Npgsql.NpgsqlCommand(
                $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}';", admin);
            await close.ExecuteNonQueryAsync();
        }

        try
        {
            using var client = pair.A.CreateClient(key);
            using var response = await client.SendAsync(Chat(test, maxTokens: 10)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("limits_unavailable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(1, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        }
        finally
        {
            await using var admin = new Npgsql.NpgsqlConnection(postgres.AdminConnectionString);
            await admin.OpenAsync();
            await using var open = new Npgsql.NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true;", admin);
            await open.ExecuteNonQueryAsync();
        }
    }

    [Theory]
    [InlineData("redis://cache:6379/0", "cache:6379", null, null, 0, false)]
    [InlineData("redis://:s3cret@cache.internal:6390/2", "cache.internal:6390", null, "s3cret", 2, false)]
    [InlineData("rediss://relay:p%40ss@cache", "cache:6380", "relay", "p@ss", 0, true)]
    [InlineData("redis://127.0.0.1", "127.0.0.1:6379", null, null, 0, false)]
    public void RedisUrl_IsReadAsTheUsualUrlForm(string url, string endpoint, string? user, string? password, int database, bool tls)
    {
        Assert.True(RedisUrl.TryParse(url, out var options, out var error), error);
        Assert.Equal(endpoint, EndPointCollection.ToString(Assert.Single(options!.EndPoints)));
        Assert.Equal(user, options.User);
        Assert.Equal(password, options.Password);
        Assert.Equal(database, options.DefaultDatabase);
        Assert.Equal(tls, options.Ssl);
        Assert.False(options.AbortOnConnectFail);
    }

    [Theory]
    [InlineData("postgres://u:hunter2@h/db")]
    [InlineData("redis://:hunter2@h/sixteen")]
    [InlineData("redis://:hunter2@h/0?timeout=1")]
    [InlineData("hunter2")]
    public void ABadRedisUrl_IsRefusedWithoutRepeatingItsPassword(string url)
    {
        Assert.False(RedisUrl.TryParse(url, out _, out var error));
        Assert.Contains("REDIS_URL", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadRedisUrl_StopsTheRelayAtStartUp_AndNoneLeavesTheLimitsInProcess()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Redis:Url"] = "redis://:hunter2@cache/x" }));
        Assert.Contains("REDIS_URL", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);

        await using var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString());
        Assert.IsType<KeyLimiter>(relay.Services.GetRequiredService<IKeyLimiter>());
    }

    /// <summary>Both relays on one ledger (the same data directory) and one Redis; the second starts after the first made the pepper.</summary>
    private async Task<RelayPair> StartPairAsync(Dictionary<string, string?>? extra = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Relay:AdminToken"] = AdminToken,
            ["Relay:Storage:DataDirectory"] = _data,
            ["Relay:Redis:Url"] = _redis.Url,
        };
        foreach (var (name, value) in extra ?? [])
        {
            values[name] = value;
        }

        var a = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), values);
        var b = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), values);
        Assert.IsType<RedisKeyLimiter>(a.Services.GetRequiredService<IKeyLimiter>());
        return new RelayPair(a, b);
    }

    /// <summary>
    /// 50 concurrent chat requests alternating between the two relays, each reserving just over 60,000 micro-dollars
    /// (max_tokens 100,000) and held 1.5 s upstream, so all of them are admitted or refused while the others run.
    /// </summary>
    private static Task<(HttpStatusCode StatusCode, string Body)[]> FiftyBudgetedRequestsAsync(RelayServer a, RelayServer b, string key, string test) =>
        Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var client = (i % 2 == 0 ? a : b).CreateClient(key);
            using var request = Chat(test, maxTokens: 100_000, usage: ThousandEach, delayMs: 1_500);
            using var response = await client.SendAsync(request).DefaultTimeout();
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

    /// <summary>The database's budget reservations, on a migrated SQLite file of this test's data directory.</summary>
    private async Task<BudgetReservationStore> BudgetsAsync()
    {
        Directory.CreateDirectory(_data);
        var database = new SqliteRelayDatabase(Path.Combine(_data, "budgets-" + Guid.NewGuid().ToString("N") + ".db"), TimeSpan.FromSeconds(2));
        await database.PrepareAsync(CancellationToken.None);
        await SchemaMigrator.MigrateAsync(database, TimeProvider.System, CancellationToken.None);
        return new BudgetReservationStore(database, TimeProvider.System);
    }

    private static async Task<JsonElement> ReadyAsync(RelayServer relay)
    {
        using var client = relay.CreateClient(null);
        return JsonDocument.Parse(await client.GetStringAsync(new Uri("readyz", UriKind.Relative)).DefaultTimeout()).RootElement.Clone();
    }

    private static string KeyId(string key) => key[8..18];

    private static string KeyPrefix(string key) => "relay:limits:{" + KeyId(key) + "}:";

    private static HttpRequestMessage Chat(string test, long? maxTokens = null, string? usage = null, int? delayMs = null)
    {
        var cap = maxTokens is { } tokens ? $",\"max_tokens\":{tokens}" : string.Empty;
        var request = Post("v1/chat/completions", $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]{{cap}}}""", test);
        if (usage is not null)
        {
            request.Headers.Add("x-fake-usage", usage);
        }

        if (delayMs is { } delay)
        {
            request.Headers.Add("x-fake-delay-ms", delay.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return request;
    }

    /// <summary>Both stopped before either is disposed: disposing deletes the data directory they share.</summary>
    private sealed class RelayPair(RelayServer a, RelayServer b) : IAsyncDisposable
    {
        public RelayServer A => a;

        public RelayServer B => b;

        public async ValueTask DisposeAsync()
        {
            await Task.WhenAll(a.StopAsync(), b.StopAsync()).WaitAsync(TimeSpan.FromSeconds(15));
            await b.DisposeAsync();
            await a.DisposeAsync();
        }
    }

    private sealed class ZeroSpend : ISpendHistory
    {
        public Task<long> SpentSinceAsync(string keyId, DateTimeOffset since, CancellationToken cancellationToken) => Task.FromResult(0L);
    }
}

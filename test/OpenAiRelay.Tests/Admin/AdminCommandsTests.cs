using System.CommandLine;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using OpenAiRelay.Admin;
using OpenAiRelay.Metering;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Tests.Storage;

namespace OpenAiRelay.Tests.Admin;

/// <summary>The operator verbs, invoked in-process exactly as Program.cs wires them, on both engines.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AdminCommandsTests(PostgresServer postgres)
{
    public static TheoryData<string> Engines => StoreTarget.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task KeysCreateListRevoke_RoundTrip(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);

        var create = await RunAsync(target, "keys", "create", "alice", "--expires-in", "30d");
        Assert.Equal(0, create.ExitCode);
        var token = create.Output.Split('\n')[0].Trim();
        Assert.Matches("^rk_live_[0-9A-Za-z]{10}_[0-9A-Za-z]{40}$", token);
        Assert.Contains("Created key 'alice' (" + token[..18] + ")", create.Output);

        var duplicate = await RunAsync(target, "keys", "create", "alice");
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.Error);

        var list = await RunAsync(target, "keys", "list");
        Assert.Contains("alice", list.Output);
        Assert.Contains(token[..18], list.Output);
        Assert.Contains("active", list.Output);
        Assert.DoesNotContain(token[19..], list.Output);

        var json = await RunAsync(target, "keys", "list", "--json");
        using (var document = JsonDocument.Parse(json.Output))
        {
            var key = Assert.Single(document.RootElement.GetProperty("data").EnumerateArray());
            Assert.Equal("alice", key.GetProperty("name").GetString());
            Assert.Equal(token[..18], key.GetProperty("label").GetString());
            Assert.NotEqual(JsonValueKind.Null, key.GetProperty("expires_at").ValueKind);
            Assert.False(key.TryGetProperty("key", out _));
        }

        var revoke = await RunAsync(target, "keys", "revoke", token[..18]);
        Assert.Equal(0, revoke.ExitCode);
        Assert.Contains("Revoked key 'alice'", revoke.Output);
        Assert.Equal(1, (await RunAsync(target, "keys", "revoke", "alice")).ExitCode);
        Assert.Contains("revoked", (await RunAsync(target, "keys", "list")).Output);

        // Both changes are in the audit log, by the CLI's user, with the key's name and label and never its secret.
        var audit = await RunAsync(target, "audit", "--json");
        Assert.Equal(0, audit.ExitCode);
        using (var document = JsonDocument.Parse(audit.Output))
        {
            var entries = document.RootElement.GetProperty("data").EnumerateArray().ToList();
            Assert.Equal(["key.created", "key.revoked"], entries.Select(e => e.GetProperty("action").GetString()));
            Assert.All(entries, e => Assert.StartsWith("cli:", e.GetProperty("actor").GetString(), StringComparison.Ordinal));
            Assert.All(entries, e => Assert.Equal("alice (" + token[..18] + ")", e.GetProperty("target").GetString()));
        }

        Assert.DoesNotContain(token[19..], audit.Output);
        var table = await RunAsync(target, "audit", "--since", "2000-01-01");
        Assert.Contains("key.revoked", table.Output);
        Assert.Equal(1, (await RunAsync(target, "audit", "--since", "soon")).ExitCode);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Usage_ReportsSpendByModel(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var store = new UsageStore(target.Database);
        await store.UpsertAsync(
        [
            UsageRecords.Completed(UsageRecords.InFlight("r1"), 1000, 100, 1_234_567),
            UsageRecords.Completed(UsageRecords.InFlight("r2", model: "gpt-4o"), 2000, 200, 2_000_000),
            UsageRecords.Completed(UsageRecords.InFlight("r3", startedAt: UsageRecords.T0.AddDays(-30)), 1, 1, 1),
        ], default);

        var table = await RunAsync(target, "usage", "--since", "2026-11-01", "--by", "model");
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("$1.234567", table.Output);
        Assert.Contains("$2.000000", table.Output);
        Assert.Contains("1,000", table.Output);

        var json = await RunAsync(target, "usage", "--since", "2026-11-01", "--until", "2026-11-30", "--json");
        using var document = JsonDocument.Parse(json.Output);
        var total = Assert.Single(document.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal(3_234_567, total.GetProperty("cost_micros").GetInt64());
        Assert.Equal("3.234567", total.GetProperty("cost_usd").GetString());
        Assert.Equal(2, total.GetProperty("requests").GetInt64());

        Assert.Equal(1, (await RunAsync(target, "usage", "--by", "planet")).ExitCode);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task KeysCreateAndSet_StoreAPolicy_ThatListAndTheAuditLogShow(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);

        var create = await RunAsync(target, "keys", "create", "bob", "--rpm", "60", "--endpoints", "/v1/chat, /v1/responses");
        Assert.Equal(0, create.ExitCode);
        Assert.Contains("policy: rpm 60, endpoints /v1/chat /v1/responses", create.Output);
        Assert.Contains("rpm 60, endpoints /v1/chat /v1/responses", (await RunAsync(target, "keys", "list")).Output);

        var set = await RunAsync(target, "keys", "set", "bob", "--rpm", "none", "--max-concurrent", "2");
        Assert.Equal(0, set.ExitCode);
        Assert.Contains("policy: concurrent 2, endpoints /v1/chat /v1/responses", set.Output);
        using (var document = JsonDocument.Parse((await RunAsync(target, "keys", "list", "--json")).Output))
        {
            var key = Assert.Single(document.RootElement.GetProperty("data").EnumerateArray());
            Assert.Equal("""{"max_concurrent":2,"endpoints":["/v1/chat","/v1/responses"]}""", JsonSerializer.Serialize(key.GetProperty("policy")));
        }

        foreach (var (args, message) in new[]
        {
            (new[] { "keys", "set", "bob", "--rpm", "0" }, "'rpm' must be between 1 and"),
            (new[] { "keys", "set", "bob", "--rpm", "lots" }, "--rpm must be a whole number or none"),
            (new[] { "keys", "set", "bob", "--endpoints", "/admin" }, "must be a /v1 path prefix"),
            (new[] { "keys", "set", "bob" }, "nothing to set"),
            (new[] { "keys", "set", "nobody", "--rpm", "5" }, "No active key"),
            (new[] { "keys", "create", "carol", "--max-concurrent", "-1" }, "--max-concurrent must be a whole number or none"),
        })
        {
            var refused = await RunAsync(target, args);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains(message, refused.Error);
        }

        // A refused create makes no key; a refused set changes nothing.
        Assert.DoesNotContain("carol", (await RunAsync(target, "keys", "list")).Output);
        Assert.Contains("concurrent 2, endpoints", (await RunAsync(target, "keys", "list")).Output);

        var cleared = await RunAsync(target, "keys", "set", "bob", "--max-concurrent", "none", "--endpoints", "none");
        Assert.Contains("policy: default", cleared.Output);

        using (var document = JsonDocument.Parse((await RunAsync(target, "audit", "--json")).Output))
        {
            var actions = document.RootElement.GetProperty("data").EnumerateArray().Select(e => (e.GetProperty("action").GetString(), e.GetProperty("target").GetString()!)).ToList();
            Assert.Equal(["key.created", "key.policy_changed", "key.policy_changed"], actions.Select(a => a.Item1));
            Assert.EndsWith("""policy {"rpm":60,"endpoints":["/v1/chat","/v1/responses"]}""", actions[0].Item2, StringComparison.Ordinal);
            Assert.EndsWith("policy {}", actions[2].Item2, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task KeysWithABudget_ListTheirSpendThisPeriod_AndWhatRemains(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var withDefault = new Dictionary<string, string?>(target.Settings) { ["Relay:Limits:Default:BudgetUsd"] = "5", ["Relay:Limits:Default:BudgetPeriod"] = "total" };

        var create = await RunAsync(target, "keys", "create", "alice", "--budget-usd", "20", "--budget-period", "week", "--tpm", "1000", "--models", "gpt-4o-mini*, gpt-4.1", "--budget-mode", "strict");
        Assert.Equal(0, create.ExitCode);
        Assert.Contains("policy: tpm 1000, budget $20.00/week strict, models gpt-4o-mini* gpt-4.1", create.Output);
        Assert.Equal(0, (await RunAsync(target, "keys", "create", "plain")).ExitCode);
        string aliceId, plainId;
        using (var document = JsonDocument.Parse((await RunAsync(target, "keys", "list", "--json")).Output))
        {
            var keys = document.RootElement.GetProperty("data").EnumerateArray().ToList();
            aliceId = keys.Single(k => k.GetProperty("name").GetString() == "alice").GetProperty("key_id").GetString()!;
            plainId = keys.Single(k => k.GetProperty("name").GetString() == "plain").GetProperty("key_id").GetString()!;
            Assert.Equal("""{"tpm":1000,"budget_usd":20,"budget_period":"week","budget_mode":"strict","models":["gpt-4o-mini*","gpt-4.1"]}""", JsonSerializer.Serialize(keys.Single(k => k.GetProperty("name").GetString() == "alice").GetProperty("policy")));
        }

        // This week: $1.50 and $0.25; before the week began (the start of last week), $5 that no longer counts.
        var now = DateTimeOffset.UtcNow;
        var weekStart = BudgetPeriod.Week.Start(now);
        var store = new UsageStore(target.Database);
        await store.UpsertAsync(
        [
            UsageRecords.Completed(UsageRecords.InFlight("a1", startedAt: now, keyId: aliceId), 1000, 100, 1_500_000),
            UsageRecords.Completed(UsageRecords.InFlight("a2", startedAt: weekStart, keyId: aliceId), 1000, 100, 250_000),
            UsageRecords.Completed(UsageRecords.InFlight("a3", startedAt: weekStart.AddDays(-7), keyId: aliceId), 1000, 100, 5_000_000),
            UsageRecords.Completed(UsageRecords.InFlight("p1", startedAt: weekStart.AddDays(-7), keyId: plainId), 1000, 100, 1_000_000),
        ], default);

        var table = await RunAsync(target, "keys", "list");
        Assert.Contains("$1.75 of $20.00 this week", table.Output);
        Assert.Contains("$18.25", table.Output);
        using (var document = JsonDocument.Parse((await RunAsync(target, withDefault, "keys", "list", "--json")).Output))
        {
            var keys = document.RootElement.GetProperty("data").EnumerateArray().ToDictionary(k => k.GetProperty("name").GetString()!);
            var spend = keys["alice"].GetProperty("spend");
            Assert.Equal(1.75m, spend.GetProperty("spent_usd").GetDecimal());
            Assert.Equal(18.25m, spend.GetProperty("remaining_usd").GetDecimal());
            Assert.Equal(weekStart, spend.GetProperty("period_start").GetDateTimeOffset());
            // A key that sets no policy has the default's budget, here $5 in total, of which $1 is spent.
            var plain = keys["plain"].GetProperty("spend");
            Assert.Equal("total", plain.GetProperty("budget_period").GetString());
            Assert.Equal(4m, plain.GetProperty("remaining_usd").GetDecimal());
        }

        foreach (var (args, message) in new[]
        {
            (new[] { "keys", "set", "alice", "--budget-usd", "lots" }, "--budget-usd must be a number of dollars"),
            (new[] { "keys", "set", "alice", "--budget-usd", "0" }, "'budget_usd' must be more than 0"),
            (new[] { "keys", "set", "alice", "--budget-usd", "0.0000001" }, "finer than a micro-dollar"),
            (new[] { "keys", "set", "alice", "--budget-period", "fortnight" }, "budget_period must be day, week, month or total"),
            (new[] { "keys", "set", "alice", "--budget-mode", "lenient" }, "budget_mode must be reserve or strict"),
            (new[] { "keys", "set", "alice", "--models", "gpt*4" }, "prefix ending in *"),
            (new[] { "keys", "set", "alice", "--tpm", "0" }, "'tpm' must be between 1 and"),
        })
        {
            var refused = await RunAsync(target, args);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains(message, refused.Error);
        }

        var cleared = await RunAsync(target, "keys", "set", "alice", "--budget-usd", "none", "--tpm", "none", "--models", "none");
        Assert.Contains("policy: default", cleared.Output);
        Assert.DoesNotContain("this week", (await RunAsync(target, "keys", "list")).Output);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task DbMigrate_OnAFreshStore_CreatesTheSchema(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres, migrate: false);
        var result = await RunAsync(target, "db", "migrate");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("schema at version 7", result.Output);
        Assert.Empty(await SchemaMigrator.MigrateAsync(target.Database, TimeProvider.System, default));
    }

    [Fact]
    public async Task BadStorageConfiguration_ExitsWithCode2AndOneLine()
    {
        var root = new RootCommand();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Relay:Storage:Provider"] = "oracle" }).Build();
        AdminCommands.AddTo(root, () => configuration);
        var error = new StringWriter();
        var exit = await root.Parse(["keys", "list"]).InvokeAsync(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.Equal(2, exit);
        Assert.Contains("Relay:Storage:Provider", error.ToString());
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ObjectsListAssignRelease_ChangeWhoOwnsAnObject_AndAreAudited(string engine)
    {
        await using var target = await StoreTarget.CreateAsync(engine, postgres);
        var alice = (await RunAsync(target, "keys", "create", "alice")).Output.Split('\n')[0].Trim();
        Assert.Equal(0, (await RunAsync(target, "keys", "create", "bob")).ExitCode);
        var store = new ObjectOwnershipStore(target.Database);
        await store.RecordAsync([new OwnedObject("file-a1", "file", alice[8..18], null, UsageRecords.T0), new OwnedObject("vs_b2", "vector_store", null, null, UsageRecords.T0.AddMinutes(1))], default);

        var all = await RunAsync(target, "objects", "list");
        Assert.Equal(0, all.ExitCode);
        Assert.Contains("file-a1", all.Output);
        Assert.Contains(alice[..18], all.Output);
        Assert.Contains("(none)", all.Output);
        Assert.DoesNotContain(alice[19..], all.Output);
        Assert.DoesNotContain("file-a1", (await RunAsync(target, "objects", "list", "--unowned")).Output);
        Assert.Contains("vs_b2", (await RunAsync(target, "objects", "list", "--unowned")).Output);

        // A legacy object no one owns goes to bob; one the relay never saw needs its kind.
        Assert.Equal(0, (await RunAsync(target, "objects", "assign", "vs_b2", "--key", "bob")).ExitCode);
        var unknown = await RunAsync(target, "objects", "assign", "file-never", "--key", "bob");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("--kind", unknown.Error);
        Assert.Equal(0, (await RunAsync(target, "objects", "assign", "file-never", "--key", "bob", "--kind", "file")).ExitCode);
        var bobs = await RunAsync(target, "objects", "list", "--key", "bob", "--json");
        Assert.Equal(["file-never", "vs_b2"], JsonDocument.Parse(bobs.Output).RootElement.GetProperty("data").EnumerateArray().Select(o => o.GetProperty("id").GetString()).Order());
        Assert.Equal(1, (await RunAsync(target, "objects", "assign", "vs_b2", "--key", "nobody")).ExitCode);

        Assert.Equal(0, (await RunAsync(target, "objects", "release", "file-a1")).ExitCode);
        Assert.Null((await store.GetAsync("file-a1", default))!.OwnerKeyId);
        Assert.Equal(1, (await RunAsync(target, "objects", "release", "file-unknown")).ExitCode);

        var audit = (await RunAsync(target, "audit")).Output;
        Assert.Contains("object.assigned", audit);
        Assert.Contains("object.released", audit);
    }

    private static Task<(int ExitCode, string Output, string Error)> RunAsync(StoreTarget target, params string[] args) =>
        RunAsync(target, target.Settings, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(StoreTarget target, IEnumerable<KeyValuePair<string, string?>> settings, params string[] args)
    {
        var root = new RootCommand();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        AdminCommands.AddTo(root, () => configuration);
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }).WaitAsync(TimeSpan.FromSeconds(30));
        SqliteConnection.ClearAllPools();
        return (exit, output.ToString(), error.ToString());
    }
}

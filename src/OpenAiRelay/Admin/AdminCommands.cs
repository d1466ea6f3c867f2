using OpenAiRelay.Authentication;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenAiRelay.Storage;
using OpenAiRelay.Configuration;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Admin;

/// <summary>
/// The operator verbs of the one executable: <c>keys create|set|list|revoke</c>, <c>usage</c>, <c>audit</c>,
/// <c>objects list|assign|release</c> and <c>db migrate</c>.
/// Output goes to the invocation's writers (tests capture them); exit codes: 0 done, 1 refused or failed, 2 configuration.
/// </summary>
internal static class AdminCommands
{
    public static void AddTo(RootCommand root, Func<IConfiguration> configuration, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        root.Subcommands.Add(Keys(configuration, time));
        root.Subcommands.Add(Usage(configuration, time));
        root.Subcommands.Add(Db(configuration, time));
        root.Subcommands.Add(Audit(configuration, time));
        root.Subcommands.Add(Objects(configuration, time));
    }

    private static Command Keys(Func<IConfiguration> configuration, TimeProvider time)
    {
        var keys = new Command("keys", "Create, limit, list and revoke client keys (rk_live_...).");

        var name = new Argument<string>("name") { Description = "A unique name for the key, such as the person or service using it." };
        var expiresIn = new Option<string?>("--expires-in") { Description = "Lifetime such as 90m, 12h, 30d or 4w. Default: never expires." };
        var createPolicy = new PolicyOptions();
        var create = new Command("create", "Create a key and print its secret (shown only this once).") { name, expiresIn };
        createPolicy.AddTo(create);
        create.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            TimeSpan? lifetime = null;
            if (parse.GetValue(expiresIn) is { } text)
            {
                if (!DurationText.TryParse(text, out var parsed))
                {
                    throw new AdminUsageException("--expires-in must look like 90m, 12h, 30d or 4w, at most 100 years");
                }

                lifetime = parsed;
            }

            CreatedKey created;
            try
            {
                var policy = createPolicy.Apply(parse, KeyPolicy.Unlimited);
                created = await session.Keys.CreateAsync(parse.GetValue(name)!, lifetime, policy, AdminActor.Cli(), ct);
            }
            catch (ArgumentException e)
            {
                throw new AdminUsageException(e.Message.Split(" (Parameter", 2)[0]);
            }

            await output.WriteLineAsync(created.Token);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Created key '{created.Key.Name}' ({ClientKeyToken.LabelFor(created.Key.KeyId)}){(created.Key.ExpiresAt is { } e2 ? $", expires {e2:yyyy-MM-dd HH:mm} UTC" : string.Empty)}, policy: {PolicyText.Describe(created.Key.Policy)}. Store the line above now: it is not shown again."));
        }, ct));

        var setTarget = new Argument<string>("name-or-key-id") { Description = "The key's name or its key id (the part after rk_live_)." };
        var setPolicy = new PolicyOptions();
        var set = new Command("set", "Change a key's limits (none clears one). Running relays apply it within Relay:Keys:CacheTtl (5 s by default).") { setTarget };
        setPolicy.AddTo(set);
        set.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            if (!setPolicy.AnyGiven(parse))
            {
                throw new AdminUsageException("nothing to set: give at least one of --rpm, --max-concurrent, --endpoints");
            }

            var value = parse.GetValue(setTarget)!;
            StoredClientKey? changed;
            try
            {
                changed = await session.Keys.SetPolicyAsync(value, policy => setPolicy.Apply(parse, policy), AdminActor.Cli(), ct);
            }
            catch (FormatException e)
            {
                throw new AdminUsageException(e.Message);
            }

            if (changed is null)
            {
                throw new AdminUsageException($"No active key named or with key id '{value}'");
            }

            await output.WriteLineAsync($"Key '{changed.Name}' ({ClientKeyToken.LabelFor(changed.KeyId)}) policy: {PolicyText.Describe(changed.Policy)}");
        }, ct));

        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List keys: name, label, created, expires, revoked, policy, and for a key with a budget its spend this period and what remains (never secrets).") { json };
        list.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            var all = await session.Keys.ListAsync(ct);
            var now = time.GetUtcNow();
            var spends = await KeySpend.ReadAsync(all, session.DefaultPolicy, session.Usage, now, ct);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(AdminJson.Indented(writer => AdminJson.WriteKeys(writer, all, now, spends)));
                return;
            }

            var rows = all.Select(k => new[]
            {
                k.Name, ClientKeyToken.LabelFor(k.KeyId), Format(k.CreatedAt), Format(k.ExpiresAt), Format(k.RevokedAt),
                k.RevokedAt is not null ? "revoked" : k.IsUsableAt(now) ? "active" : "expired",
                PolicyText.Describe(k.Policy),
                spends.TryGetValue(k.KeyId, out var spend) ? $"{KeySpend.Dollars(spend.SpentMicros)} of {KeySpend.Dollars(spend.BudgetMicros)} this {spend.Policy.BudgetPeriod.Name()}" : "-",
                spend is not null ? KeySpend.Dollars(spend.RemainingMicros) : "-",
            }).ToList();
            await CliTable.WriteAsync(output, ["NAME", "LABEL", "CREATED (UTC)", "EXPIRES", "REVOKED", "STATUS", "POLICY", "SPENT", "REMAINING"], rows);
        }, ct));

        var target = new Argument<string>("name-or-key-id") { Description = "The key's name or its key id (the part after rk_live_)." };
        var revoke = new Command("revoke", "Revoke a key. Running relays refuse it within Relay:Keys:CacheTtl (5 s by default).") { target };
        revoke.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            var value = parse.GetValue(target)!;
            var revoked = await session.Keys.RevokeAsync(value, AdminActor.Cli(), ct);
            if (revoked.Count == 0)
            {
                throw new AdminUsageException($"No active key named or with key id '{value}'");
            }

            foreach (var key in revoked)
            {
                await output.WriteLineAsync($"Revoked key '{key.Name}' ({ClientKeyToken.LabelFor(key.KeyId)})");
            }
        }, ct));

        keys.Subcommands.Add(create);
        keys.Subcommands.Add(set);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        return keys;
    }

    private static Command Usage(Func<IConfiguration> configuration, TimeProvider time)
    {
        var since = new Option<string?>("--since") { Description = "From this UTC date or time (inclusive), e.g. 2026-11-01." };
        var until = new Option<string?>("--until") { Description = "Up to this UTC time (exclusive); a bare date includes that day." };
        var by = new Option<string?>("--by") { Description = "Group by key, model or day. Default: one total." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var usage = new Command("usage", "Show spend (USD) and tokens from the usage ledger.") { since, until, by, json };
        usage.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            if (!UsageQueryText.TryParse(parse.GetValue(since), parse.GetValue(until), parse.GetValue(by), out var query, out var error))
            {
                throw new AdminUsageException(error!);
            }

            var rows = await session.Usage.SummarizeAsync(query, ct);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(AdminJson.Indented(writer => AdminJson.WriteUsage(writer, query, rows)));
                return;
            }

            var cells = rows.Select(r => new[]
            {
                r.Group, N(r.Requests), N(r.InputTokens), N(r.CachedTokens), N(r.OutputTokens), N(r.ReasoningTokens),
                "$" + AdminJson.FormatUsd(r.CostMicros), N(r.UnpricedRequests), N(r.EstimatedRequests),
            }).ToList();
            await CliTable.WriteAsync(
                output,
                [query.By.ToString().ToUpperInvariant(), "REQUESTS", "INPUT", "CACHED", "OUTPUT", "REASONING", "COST (USD)", "UNPRICED", "ESTIMATED"],
                cells,
                new HashSet<int> { 1, 2, 3, 4, 5, 6, 7, 8 });
        }, ct));
        return usage;
    }

    private static Command Audit(Func<IConfiguration> configuration, TimeProvider time)
    {
        var since = new Option<string?>("--since") { Description = "From this UTC date or time (inclusive), e.g. 2026-11-01." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var audit = new Command("audit", "Show the admin audit log: keys created and revoked, by whom (label, address) and when.") { since, json };
        audit.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            if (!UsageQueryText.TryParseSince(parse.GetValue(since), out var from, out var error))
            {
                throw new AdminUsageException(error!);
            }

            var entries = await session.Keys.AuditAsync(from, ct);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(AdminJson.Indented(writer => AdminJson.WriteAudit(writer, entries)));
                return;
            }

            var rows = entries.Select(e => new[] { Format(e.At), e.Actor, e.Address ?? "-", e.Action, e.Target }).ToList();
            await CliTable.WriteAsync(output, ["AT (UTC)", "ACTOR", "ADDRESS", "ACTION", "TARGET"], rows);
        }, ct));
        return audit;
    }

    private static Command Objects(Func<IConfiguration> configuration, TimeProvider time)
    {
        var objects = new Command("objects", "Who owns which upstream object (Relay:Isolation:Mode=per-key): list, assign to a key, release.");

        var key = new Option<string?>("--key") { Description = "Only the objects of this key (its name or key id)." };
        var unowned = new Option<bool>("--unowned") { Description = "Only the objects no key owns (reached by the shared RELAY_TOKEN alone)." };
        var kind = new Option<string?>("--kind") { Description = "Only this kind, as the upstream names it: file, batch, vector_store, response, ..." };
        var limit = new Option<int>("--limit") { Description = "At most this many, newest first (default 100).", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List recorded objects, newest first: id, kind, owner, created.") { key, unowned, kind, limit, json };
        list.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            string? owner = null;
            if (parse.GetValue(key) is { } name)
            {
                owner = (await session.Objects.FindKeyAsync(name, ct) ?? throw new AdminUsageException($"No active key named or with key id '{name}'")).KeyId;
            }

            var found = await session.Objects.ListAsync(owner, parse.GetValue(unowned), parse.GetValue(kind), Math.Clamp(parse.GetValue(limit), 1, 10_000), ct);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(AdminJson.Indented(writer => AdminJson.WriteObjects(writer, found)));
                return;
            }

            var rows = found.Select(o => new[] { o.ObjectId, o.Kind, o.OwnerKeyId is { } id ? ClientKeyToken.LabelFor(id) : "(none)", Format(o.CreatedAt) }).ToList();
            await CliTable.WriteAsync(output, ["ID", "KIND", "OWNER", "CREATED (UTC)"], rows);
        }, ct));

        var assignId = new Argument<string>("object-id") { Description = "The upstream id, such as file-abc or vs_abc." };
        var assignKey = new Option<string>("--key") { Description = "The key that owns it from now on (its name or key id).", Required = true };
        var assignKind = new Option<string?>("--kind") { Description = "For an object the relay never saw created: its kind (file, vector_store, ...)." };
        var assign = new Command("assign", "Give an object to a key: only that key (and the shared RELAY_TOKEN) reaches it then.") { assignId, assignKey, assignKind };
        assign.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            var id = parse.GetValue(assignId)!;
            var name = parse.GetValue(assignKey)!;
            var owner = await session.Objects.FindKeyAsync(name, ct) ?? throw new AdminUsageException($"No active key named or with key id '{name}'");
            if (!await session.Objects.AssignAsync(id, owner, parse.GetValue(assignKind), AdminActor.Cli(), ct))
            {
                throw new AdminUsageException($"The relay has no record of '{id}': give its --kind to record it");
            }

            await output.WriteLineAsync($"{id} belongs to '{owner.Name}' ({ClientKeyToken.LabelFor(owner.KeyId)}). Running relays apply it within a minute (their cached owners expire).");
        }, ct));

        var releaseId = new Argument<string>("object-id") { Description = "The upstream id." };
        var release = new Command("release", "Take an object from its key: then only the shared RELAY_TOKEN reaches it.") { releaseId };
        release.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            var id = parse.GetValue(releaseId)!;
            if (!await session.Objects.ReleaseAsync(id, AdminActor.Cli(), ct))
            {
                throw new AdminUsageException($"The relay has no record of '{id}'");
            }

            await output.WriteLineAsync($"{id} belongs to no key now.");
        }, ct));

        objects.Subcommands.Add(list);
        objects.Subcommands.Add(assign);
        objects.Subcommands.Add(release);
        return objects;
    }

    private static Command Db(Func<IConfiguration> configuration, TimeProvider time)
    {
        var db = new Command("db", "Database maintenance.");
        var migrate = new Command("migrate", "Apply pending schema migrations (the server also does this at start-up).");
        migrate.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            // The session has already migrated; this reports where.
            var versions = SchemaMigrator.Scripts(session.Database.Engine).Select(s => s.Version).ToList();
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{session.Database.Description}: schema at version {versions.DefaultIfEmpty(0).Max()}"));
        }, ct));
        db.Subcommands.Add(migrate);

        var file = new Argument<string>("file") { Description = "Where to write the copy, such as /data/backup-2026-12-05.db (a file the relay's user can write)." };
        var force = new Option<bool>("--force") { Description = "Replace the file if it exists." };
        var backup = new Command("backup", "Copy the SQLite database (keys, ledger, audit, objects) to a file, consistently, while the relay runs. PostgreSQL: use pg_dump.") { file, force };
        backup.SetAction((parse, ct) => RunAsync(parse, configuration, time, async (session, output) =>
        {
            var path = await DatabaseBackup.WriteAsync(session.Database, parse.GetValue(file)!, parse.GetValue(force), ct);
            await output.WriteLineAsync($"backed up {session.Database.Description} to {path}");
            // The stored hashes are HMACs under the pepper: without it, the keys in the copy authenticate nothing.
            await output.WriteLineAsync($"keys in it work only with the same key pepper (RELAY_KEY_PEPPER, or the '{KeyPepper.FileName}' file in the data directory): keep a copy of that with the backup, as secret as the backup");
        }, ct));
        db.Subcommands.Add(backup);
        return db;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<IConfiguration> configuration, TimeProvider time, Func<AdminSession, TextWriter, Task> action, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            await using var session = await AdminSession.OpenAsync(configuration(), time, migrate: true, cancellationToken);
            await action(session, output);
            return 0;
        }
        catch (RelayConfigurationException e)
        {
            foreach (var failure in e.Failures)
            {
                await error.WriteLineAsync($"openai-relay: {failure}");
            }

            return 2;
        }
        catch (Exception e) when (e is AdminUsageException or DuplicateKeyNameException)
        {
            await error.WriteLineAsync($"openai-relay: {e.Message}");
            return 1;
        }
        catch (System.Data.Common.DbException e)
        {
            await error.WriteLineAsync($"openai-relay: storage error: {e.Message}");
            return 1;
        }
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Format(DateTimeOffset? value) => value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "-";
}

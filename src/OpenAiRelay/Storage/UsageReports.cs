using System.Data.Common;

namespace OpenAiRelay.Storage;

/// <summary>
/// The console's reads of the usage ledger: time-bucketed series, a range's totals and percentiles, and the rows
/// themselves, newest first. Every query is bounded by a time range on the indexed <c>started_at</c> and returns a
/// bounded result (top groups plus <c>other</c>, one page of rows); filters are parameters compared for equality, never
/// <c>LIKE</c> patterns (new-api's CVE-2026-25591 was a wildcard in a search box).
/// </summary>
internal sealed class UsageReports(RelayDatabase database)
{
    public const string OtherGroup = "other";

    private const string From = " FROM usage_records u LEFT JOIN client_keys k ON k.key_id = u.key_id WHERE u.started_at >= @since AND u.started_at < @until";

    // A row is an error when the client did not get a complete answer: an error status, or an end other than a
    // completion (a background response is complete when it starts; an in-flight row has not ended yet).
    private const string IsError = "CASE WHEN u.status >= 400 OR u.outcome NOT IN ('completed', 'background', 'in_flight') THEN 1 ELSE 0 END";

    private static readonly string s_totals =
        $"COUNT(*), SUM({IsError}), {UsageStore.SplitSum("u.input_tokens")}, {UsageStore.SplitSum("u.cached_tokens")}, " +
        $"{UsageStore.SplitSum("u.output_tokens")}, {UsageStore.SplitSum("u.reasoning_tokens")}, {UsageStore.SplitSum("COALESCE(u.cost_micros, 0)")}";

    /// <summary>Spend and tokens per bucket and group; the <paramref name="limit"/> costliest groups by name, the rest as <see cref="OtherGroup"/>.</summary>
    public async Task<UsageSeries> SeriesAsync(UsageBucket bucket, UsageSeriesGrouping by, DateTimeOffset since, DateTimeOffset until, int limit, CancellationToken cancellationToken)
    {
        var group = GroupExpression(by);
        await using var connection = await database.OpenAsync(cancellationToken);

        // The groups that keep their name: the costliest, then the busiest, bounded so a chart never has a
        // thousand lines and the series query below never returns a row per key per hour for every key.
        var top = new List<string>();
        using (var command = Bounded(connection, $"SELECT {group} AS grp, {UsageStore.SplitSum("COALESCE(u.cost_micros, 0)")}, COUNT(*){From} GROUP BY 1;", since, until))
        {
            var ranked = new List<(string Group, long Cost, long Requests)>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ranked.Add((reader.GetString(0), UsageStore.ReadSplitSum(reader, 1), reader.ReadLong(3)));
            }

            top.AddRange(ranked.OrderByDescending(r => r.Cost).ThenByDescending(r => r.Requests).ThenBy(r => r.Group, StringComparer.Ordinal).Take(limit).Select(r => r.Group));
            if (ranked.Count > top.Count)
            {
                top.Add(OtherGroup);
            }
        }

        var named = top.Where(g => g != OtherGroup).ToArray();
        var folded = named.Length == 0
            ? $"'{OtherGroup}'"
            : $"CASE WHEN {group} IN ({string.Join(", ", named.Select((_, i) => "@g" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))}) THEN {group} ELSE '{OtherGroup}' END";
        if (top.Count == named.Length)
        {
            folded = group;
        }

        var bucketOf = bucket == UsageBucket.Hour ? database.HourOf("u.started_at") : database.DayOf("u.started_at");
        var points = new List<UsageSeriesPoint>();
        using (var command = Bounded(connection, $"SELECT {bucketOf} AS bkt, {folded} AS grp, {s_totals}{From} GROUP BY 1, 2 ORDER BY 1, 2;", since, until))
        {
            for (var i = 0; i < named.Length; i++)
            {
                command.With("@g" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), named[i]);
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                points.Add(new UsageSeriesPoint(BucketStart(reader.GetString(0)), reader.GetString(1), ReadTotals(reader, 2)));
            }
        }

        return new UsageSeries(top, points);
    }

    /// <summary>A range's totals, latency and time-to-first-byte percentiles, and its costliest keys and models.</summary>
    public async Task<UsageStats> StatsAsync(DateTimeOffset since, DateTimeOffset until, int top, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        UsageTotals totals;
        using (var command = Bounded(connection, $"SELECT {s_totals}{From};", since, until))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            totals = ReadTotals(reader, 0);
        }

        // Settled rows only: an in-flight row has no latency yet.
        var latency = await PercentilesAsync(connection, "u.latency_ms", "u.outcome <> 'in_flight'", since, until, cancellationToken);
        var firstByte = await PercentilesAsync(connection, "u.ttfb_ms", "u.outcome <> 'in_flight' AND u.ttfb_ms IS NOT NULL", since, until, cancellationToken);
        var keys = await TopAsync(connection, GroupExpression(UsageSeriesGrouping.Key), since, until, top, cancellationToken);
        var models = await TopAsync(connection, GroupExpression(UsageSeriesGrouping.Model), since, until, top, cancellationToken);
        return new UsageStats(totals, latency, firstByte, keys, models);
    }

    /// <summary>
    /// One page of rows, newest first, after <paramref name="filter"/>'s cursor. <c>key</c> matches a key id or any
    /// key ever given that name (a revoked key's usage stays visible); model and outcome match exactly.
    /// </summary>
    public async Task<UsageRowPage> RowsAsync(UsageRowFilter filter, int limit, CancellationToken cancellationToken)
    {
        var sql = new System.Text.StringBuilder("SELECT u.request_id, u.started_at, k.name, u.key_label, u.model, u.endpoint, u.method, u.status, u.outcome, ")
            .Append("u.input_tokens, u.cached_tokens, u.output_tokens, u.reasoning_tokens, u.estimated, u.cost_micros, u.latency_ms, u.ttfb_ms")
            .Append(From);
        if (filter.Key is not null)
        {
            sql.Append(" AND (u.key_id = @key OR u.key_id IN (SELECT key_id FROM client_keys WHERE name = @key))");
        }

        if (filter.Model is not null)
        {
            sql.Append(" AND u.model = @model");
        }

        if (filter.Outcome is not null)
        {
            sql.Append(" AND u.outcome = @outcome");
        }

        if (filter.Before is not null)
        {
            sql.Append(" AND (u.started_at < @before_at OR (u.started_at = @before_at AND u.request_id < @before_id))");
        }

        sql.Append(" ORDER BY u.started_at DESC, u.request_id DESC LIMIT @limit;");
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = Bounded(connection, sql.ToString(), filter.Since, filter.Until).With("@limit", limit + 1);
        if (filter.Key is not null)
        {
            command.With("@key", filter.Key);
        }

        if (filter.Model is not null)
        {
            command.With("@model", filter.Model);
        }

        if (filter.Outcome is not null)
        {
            command.With("@outcome", filter.Outcome);
        }

        if (filter.Before is { } before)
        {
            command.With("@before_at", database.ToDbTimestamp(before.StartedAt)).With("@before_id", before.RequestId);
        }

        var rows = new List<UsageRow>(Math.Min(limit + 1, 1024));
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new UsageRow(
                    reader.GetString(0), database.ReadTimestamp(reader, 1), reader.ReadNullableString(2), reader.GetString(3), reader.ReadNullableString(4),
                    reader.GetString(5), reader.GetString(6), Convert.ToInt32(reader.GetValue(7), System.Globalization.CultureInfo.InvariantCulture), reader.GetString(8),
                    reader.ReadLong(9), reader.ReadLong(10), reader.ReadLong(11), reader.ReadLong(12), reader.GetBoolean(13), reader.ReadNullableLong(14),
                    reader.ReadLong(15), reader.ReadNullableLong(16)));
            }
        }

        var more = rows.Count > limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new UsageRowPage(rows, more ? new UsageRowCursor(rows[^1].StartedAt, rows[^1].RequestId) : null);
    }

    private static string GroupExpression(UsageSeriesGrouping by) => by switch
    {
        // The same text as /admin/usage?by=key: the name for people, the label to tell two same-named keys apart.
        UsageSeriesGrouping.Key => "COALESCE(k.name, u.key_label) || ' (' || u.key_label || ')'",
        UsageSeriesGrouping.Model => "COALESCE(u.model, '(unknown)')",
        _ => "'total'",
    };

    private DbCommand Bounded(DbConnection connection, string sql, DateTimeOffset since, DateTimeOffset until)
        => database.Command(connection, sql).With("@since", database.ToDbTimestamp(since)).With("@until", database.ToDbTimestamp(until));

    private async Task<UsagePercentiles?> PercentilesAsync(DbConnection connection, string column, string where, DateTimeOffset since, DateTimeOffset until, CancellationToken cancellationToken)
    {
        long count;
        using (var command = Bounded(connection, $"SELECT COUNT(*){From} AND {where};", since, until))
        {
            count = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (count == 0)
        {
            return null;
        }

        // Nearest rank, computed by the database: one ordered read per percentile, no rows brought over.
        async Task<long> AtAsync(double quantile)
        {
            var offset = (long)Math.Ceiling(quantile * count) - 1;
            using var command = Bounded(connection, $"SELECT {column}{From} AND {where} ORDER BY {column} LIMIT 1 OFFSET @offset;", since, until).With("@offset", Math.Max(0, offset));
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        return new UsagePercentiles(await AtAsync(0.50), await AtAsync(0.95));
    }

    private async Task<IReadOnlyList<UsageGroupTotal>> TopAsync(DbConnection connection, string group, DateTimeOffset since, DateTimeOffset until, int top, CancellationToken cancellationToken)
    {
        using var command = Bounded(connection, $"SELECT {group} AS grp, {s_totals}{From} GROUP BY 1;", since, until);
        var groups = new List<UsageGroupTotal>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            groups.Add(new UsageGroupTotal(reader.GetString(0), ReadTotals(reader, 1)));
        }

        return groups.OrderByDescending(g => g.Totals.CostMicros).ThenByDescending(g => g.Totals.Requests).ThenBy(g => g.Group, StringComparer.Ordinal).Take(top).ToArray();
    }

    private static UsageTotals ReadTotals(DbDataReader reader, int first) => new(
        reader.ReadLong(first),
        reader.IsDBNull(first + 1) ? 0 : reader.ReadLong(first + 1),
        UsageStore.ReadSplitSum(reader, first + 2),
        UsageStore.ReadSplitSum(reader, first + 4),
        UsageStore.ReadSplitSum(reader, first + 6),
        UsageStore.ReadSplitSum(reader, first + 8),
        UsageStore.ReadSplitSum(reader, first + 10));

    private static DateTimeOffset BucketStart(string bucket) => bucket.Length == 10
        ? DateTimeOffset.ParseExact(bucket, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal)
        : DateTimeOffset.ParseExact(bucket, "yyyy-MM-dd'T'HH", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
}

internal enum UsageBucket
{
    Hour,
    Day,
}

internal enum UsageSeriesGrouping
{
    Total,
    Key,
    Model,
}

/// <summary>A range's or a bucket's sums. <see cref="CostMicros"/> counts priced rows only (unpriced ones are flagged in the ledger).</summary>
internal sealed record UsageTotals(long Requests, long Errors, long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens, long CostMicros);

internal sealed record UsageSeriesPoint(DateTimeOffset Start, string Group, UsageTotals Totals);

internal sealed record UsageSeries(IReadOnlyList<string> Groups, IReadOnlyList<UsageSeriesPoint> Points);

internal sealed record UsagePercentiles(long P50, long P95);

internal sealed record UsageGroupTotal(string Group, UsageTotals Totals);

internal sealed record UsageStats(UsageTotals Totals, UsagePercentiles? LatencyMs, UsagePercentiles? FirstByteMs, IReadOnlyList<UsageGroupTotal> TopKeys, IReadOnlyList<UsageGroupTotal> TopModels);

internal sealed record UsageRowCursor(DateTimeOffset StartedAt, string RequestId);

internal sealed record UsageRowFilter(DateTimeOffset Since, DateTimeOffset Until, string? Key, string? Model, string? Outcome, UsageRowCursor? Before);

internal sealed record UsageRow(
    string RequestId, DateTimeOffset StartedAt, string? KeyName, string KeyLabel, string? Model, string Endpoint, string Method, int Status, string Outcome,
    long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens, bool Estimated, long? CostMicros, long LatencyMs, long? FirstByteMs);

internal sealed record UsageRowPage(IReadOnlyList<UsageRow> Rows, UsageRowCursor? Next);

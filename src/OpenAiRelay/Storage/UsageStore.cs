using System.Data.Common;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Storage;

/// <summary>Reads and writes <c>usage_records</c>. Every write is an upsert on the relay's request id.</summary>
internal sealed class UsageStore(RelayDatabase database)
{
    private const string Columns =
        "request_id, key_id, key_label, model, endpoint, method, status, input_tokens, cached_tokens, output_tokens, reasoning_tokens, " +
        "estimated, cost_micros, latency_ms, ttfb_ms, bytes_in, bytes_out, upstream_request_id, outcome, started_at, ended_at, estimated_input_tokens";

    // An in-flight row takes any newer state. A settled row never changes again (a retried batch or a late
    // replay of the journal cannot double count or regress it), except that a real settlement replaces an
    // 'interrupted' estimate: another instance's start-up may have reconciled a row that was still alive.
    private const string UpsertSql =
        "INSERT INTO usage_records (" + Columns + ") VALUES (" +
        "@request_id, @key_id, @key_label, @model, @endpoint, @method, @status, @input_tokens, @cached_tokens, @output_tokens, @reasoning_tokens, " +
        "@estimated, @cost_micros, @latency_ms, @ttfb_ms, @bytes_in, @bytes_out, @upstream_request_id, @outcome, @started_at, @ended_at, @estimated_input_tokens) " +
        "ON CONFLICT (request_id) DO UPDATE SET " +
        "key_id = excluded.key_id, key_label = excluded.key_label, model = excluded.model, endpoint = excluded.endpoint, method = excluded.method, " +
        "status = excluded.status, input_tokens = excluded.input_tokens, cached_tokens = excluded.cached_tokens, output_tokens = excluded.output_tokens, " +
        "reasoning_tokens = excluded.reasoning_tokens, estimated = excluded.estimated, cost_micros = excluded.cost_micros, latency_ms = excluded.latency_ms, " +
        "ttfb_ms = excluded.ttfb_ms, bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, upstream_request_id = excluded.upstream_request_id, " +
        "outcome = excluded.outcome, started_at = excluded.started_at, ended_at = excluded.ended_at, estimated_input_tokens = excluded.estimated_input_tokens " +
        "WHERE usage_records.outcome = 'in_flight' OR (usage_records.outcome = 'interrupted' AND excluded.outcome NOT IN ('in_flight', 'interrupted'));";

    public RelayDatabase Database => database;

    /// <summary>Writes the records in order, in one transaction: all or none.</summary>
    public async Task UpsertAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        using var command = database.Command(connection, UpsertSql, transaction);
        // The parameters are kept and set by position: looking each of the 22 up by name for every row (a linear
        // search of the collection) showed in the ledger writer's profile. The statement is prepared once per batch.
        var parameters = new DbParameter[ParameterNames.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            command.With(ParameterNames[i], null);
            parameters[i] = command.Parameters[i];
        }

        foreach (var record in records)
        {
            Bind(parameters, record);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<UsageRecord?> GetAsync(string requestId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "SELECT " + Columns + " FROM usage_records WHERE request_id = @request_id;")
            .With("@request_id", requestId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Rows still in flight that started before <paramref name="before"/>: left behind by a process that died.</summary>
    public async Task<IReadOnlyList<UsageRecord>> ListInFlightAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, "SELECT " + Columns + " FROM usage_records WHERE outcome = 'in_flight' AND started_at < @before ORDER BY started_at;")
            .With("@before", database.ToDbTimestamp(before));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<UsageRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    public async Task<IReadOnlyList<UsageSummaryRow>> SummarizeAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        var group = query.By switch
        {
            UsageGrouping.Key => "COALESCE(k.name, u.key_label) || ' (' || u.key_label || ')'",
            UsageGrouping.Model => "COALESCE(u.model, '(unknown)')",
            UsageGrouping.Day => database.DayOf("u.started_at"),
            _ => "'total'",
        };

        // Only constant fragments are concatenated; the bounds are parameters.
        var where = (query.Since is null ? string.Empty : " AND u.started_at >= @since") + (query.Until is null ? string.Empty : " AND u.started_at < @until");
        var sql =
            $"SELECT {group} AS grp, COUNT(*), SUM(u.input_tokens), SUM(u.cached_tokens), SUM(u.output_tokens), SUM(u.reasoning_tokens), " +
            "SUM(u.cost_micros), SUM(CASE WHEN u.cost_micros IS NULL THEN 1 ELSE 0 END), SUM(CASE WHEN u.estimated THEN 1 ELSE 0 END) " +
            "FROM usage_records u LEFT JOIN client_keys k ON k.key_id = u.key_id " +
            $"WHERE 1 = 1{where}" + (query.By == UsageGrouping.Total ? ";" : $" GROUP BY {group} ORDER BY grp;");
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(connection, sql);
        if (query.Since is { } since)
        {
            command.With("@since", database.ToDbTimestamp(since));
        }

        if (query.Until is { } until)
        {
            command.With("@until", database.ToDbTimestamp(until));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageSummaryRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageSummaryRow(
                reader.GetString(0), reader.ReadLong(1), reader.ReadLong(2), reader.ReadLong(3), reader.ReadLong(4), reader.ReadLong(5),
                reader.ReadLong(6), reader.ReadLong(7), reader.ReadLong(8)));
        }

        return rows;
    }

    private static readonly string[] ParameterNames =
    [
        "@request_id", "@key_id", "@key_label", "@model", "@endpoint", "@method", "@status", "@input_tokens", "@cached_tokens", "@output_tokens",
        "@reasoning_tokens", "@estimated", "@cost_micros", "@latency_ms", "@ttfb_ms", "@bytes_in", "@bytes_out", "@upstream_request_id", "@outcome",
        "@started_at", "@ended_at", "@estimated_input_tokens",
    ];

    /// <summary>Sets the parameters in the order of <see cref="ParameterNames"/>.</summary>
    private void Bind(DbParameter[] p, UsageRecord r)
    {
        p[0].Value = r.RequestId;
        p[1].Value = r.KeyId;
        p[2].Value = r.KeyLabel;
        p[3].Value = OrNull(r.Model);
        p[4].Value = r.Endpoint;
        p[5].Value = r.Method;
        p[6].Value = r.Status;
        p[7].Value = r.InputTokens;
        p[8].Value = r.CachedTokens;
        p[9].Value = r.OutputTokens;
        p[10].Value = r.ReasoningTokens;
        p[11].Value = r.Estimated;
        p[12].Value = OrNull(r.CostMicros);
        p[13].Value = r.LatencyMs;
        p[14].Value = OrNull(r.TtfbMs);
        p[15].Value = r.BytesIn;
        p[16].Value = r.BytesOut;
        p[17].Value = OrNull(r.UpstreamRequestId);
        p[18].Value = r.Outcome.ToName();
        p[19].Value = database.ToDbTimestamp(r.StartedAt);
        p[20].Value = r.EndedAt is { } ended ? database.ToDbTimestamp(ended) : DBNull.Value;
        p[21].Value = r.EstimatedInputTokens;
    }

    private static object OrNull(object? value) => value ?? DBNull.Value;

    private UsageRecord Read(DbDataReader reader) => new()
    {
        RequestId = reader.GetString(0),
        KeyId = reader.GetString(1),
        KeyLabel = reader.GetString(2),
        Model = reader.ReadNullableString(3),
        Endpoint = reader.GetString(4),
        Method = reader.GetString(5),
        Status = Convert.ToInt32(reader.GetValue(6), System.Globalization.CultureInfo.InvariantCulture),
        InputTokens = reader.ReadLong(7),
        CachedTokens = reader.ReadLong(8),
        OutputTokens = reader.ReadLong(9),
        ReasoningTokens = reader.ReadLong(10),
        Estimated = reader.GetBoolean(11),
        CostMicros = reader.ReadNullableLong(12),
        LatencyMs = reader.ReadLong(13),
        TtfbMs = reader.ReadNullableLong(14),
        BytesIn = reader.ReadLong(15),
        BytesOut = reader.ReadLong(16),
        UpstreamRequestId = reader.ReadNullableString(17),
        Outcome = UsageOutcomeNames.Parse(reader.GetString(18)),
        StartedAt = database.ReadTimestamp(reader, 19),
        EndedAt = reader.IsDBNull(20) ? null : database.ReadTimestamp(reader, 20),
        EstimatedInputTokens = reader.ReadLong(21),
    };
}

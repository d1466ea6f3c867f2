using System.Data.Common;

namespace OpenAiRelay.Storage;

/// <summary>Reads and writes <c>usage_records</c>. Every write is an upsert on the relay's request id.</summary>
internal sealed class UsageStore(RelayDatabase database) : ISpendHistory
{
    private const string Columns =
        "request_id, key_id, key_label, model, endpoint, method, status, input_tokens, cached_tokens, output_tokens, reasoning_tokens, " +
        "estimated, cost_micros, latency_ms, ttfb_ms, bytes_in, bytes_out, upstream_request_id, outcome, started_at, ended_at, estimated_input_tokens, audio_ms, response_id";

    // An in-flight row takes any newer state. A settled row never changes again (a retried batch or a late
    // replay of the journal cannot double count or regress it), except that a real settlement replaces an
    // 'interrupted' estimate: another instance's start-up may have reconciled a row that was still alive.
    private const string UpsertSql =
        "INSERT INTO usage_records (" + Columns + ") VALUES (" +
        "@request_id, @key_id, @key_label, @model, @endpoint, @method, @status, @input_tokens, @cached_tokens, @output_tokens, @reasoning_tokens, " +
        "@estimated, @cost_micros, @latency_ms, @ttfb_ms, @bytes_in, @bytes_out, @upstream_request_id, @outcome, @started_at, @ended_at, @estimated_input_tokens, @audio_ms, @response_id) " +
        "ON CONFLICT (request_id) DO UPDATE SET " +
        "key_id = excluded.key_id, key_label = excluded.key_label, model = excluded.model, endpoint = excluded.endpoint, method = excluded.method, " +
        "status = excluded.status, input_tokens = excluded.input_tokens, cached_tokens = excluded.cached_tokens, output_tokens = excluded.output_tokens, " +
        "reasoning_tokens = excluded.reasoning_tokens, estimated = excluded.estimated, cost_micros = excluded.cost_micros, latency_ms = excluded.latency_ms, " +
        "ttfb_ms = excluded.ttfb_ms, bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, upstream_request_id = excluded.upstream_request_id, " +
        "outcome = excluded.outcome, started_at = excluded.started_at, ended_at = excluded.ended_at, estimated_input_tokens = excluded.estimated_input_tokens, " +
        "audio_ms = excluded.audio_ms, response_id = excluded.response_id " +
        "WHERE usage_records.outcome = 'in_flight' OR (usage_records.outcome = 'interrupted' AND excluded.outcome NOT IN ('in_flight', 'interrupted'));";

    // Settles a waiting background generation with the usage a later read showed. The outcome condition makes it
    // happen once: a second read, a retried batch or a replayed journal finds the row settled and changes nothing.
    private const string CompleteBackgroundSql =
        "UPDATE usage_records SET input_tokens = @input_tokens, cached_tokens = @cached_tokens, output_tokens = @output_tokens, " +
        "reasoning_tokens = @reasoning_tokens, audio_ms = @audio_ms, estimated = @estimated, cost_micros = @cost_micros, outcome = @outcome, " +
        "ended_at = @ended_at, model = COALESCE(model, @model) WHERE response_id = @response_id AND outcome = 'background';";

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

        DbCommand? complete = null;
        try
        {
            foreach (var record in records)
            {
                if (record.CompletesBackground)
                {
                    complete ??= database.Command(connection, CompleteBackgroundSql, transaction);
                    BindCompletion(complete, record);
                    await complete.ExecuteNonQueryAsync(cancellationToken);
                    continue;
                }

                Bind(parameters, record);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        finally
        {
            complete?.Dispose();
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

    public async Task<long> SpentSinceAsync(string keyId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = database.Command(
                connection,
                $"SELECT {SplitSum("cost_micros")} FROM usage_records WHERE key_id = @key_id AND started_at >= @since AND cost_micros IS NOT NULL;")
            .With("@key_id", keyId)
            .With("@since", database.ToDbTimestamp(since));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0) ? ReadSplitSum(reader, 0) : 0;
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
            $"SELECT {group} AS grp, COUNT(*), {SplitSum("u.input_tokens")}, {SplitSum("u.cached_tokens")}, {SplitSum("u.output_tokens")}, " +
            $"{SplitSum("u.reasoning_tokens")}, {SplitSum("u.cost_micros")}, " +
            "SUM(CASE WHEN u.cost_micros IS NULL THEN 1 ELSE 0 END), SUM(CASE WHEN u.estimated THEN 1 ELSE 0 END) " +
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
                reader.GetString(0), reader.ReadLong(1), ReadSplitSum(reader, 2), ReadSplitSum(reader, 4), ReadSplitSum(reader, 6), ReadSplitSum(reader, 8),
                ReadSplitSum(reader, 10), reader.ReadLong(12), reader.ReadLong(13)));
        }

        return rows;
    }

    // NOTE: SQLite's SUM fails with "integer overflow" once a total passes Int64, and then every report fails until
    // the database is edited by hand. Rows are validated now, but old or hostile rows may hold huge numbers, so each
    // total is summed in two parts that cannot overflow for any realistic row count (whole billions, and the rest),
    // joined in 128 bits and saturated at Int64.MaxValue.
    internal const long SplitUnit = 1_000_000_000;

    internal static string SplitSum(string column) => $"SUM({column} / {SplitUnit}), SUM({column} % {SplitUnit})";

    internal static long ReadSplitSum(DbDataReader reader, int ordinal)
    {
        var total = ((Int128)reader.ReadDecimalOrLong(ordinal) * SplitUnit) + reader.ReadDecimalOrLong(ordinal + 1);
        return total > long.MaxValue ? long.MaxValue : total < long.MinValue ? long.MinValue : (long)total;
    }

    private static readonly string[] ParameterNames =
    [
        "@request_id", "@key_id", "@key_label", "@model", "@endpoint", "@method", "@status", "@input_tokens", "@cached_tokens", "@output_tokens",
        "@reasoning_tokens", "@estimated", "@cost_micros", "@latency_ms", "@ttfb_ms", "@bytes_in", "@bytes_out", "@upstream_request_id", "@outcome",
        "@started_at", "@ended_at", "@estimated_input_tokens", "@audio_ms", "@response_id",
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
        p[22].Value = r.AudioMs;
        p[23].Value = OrNull(r.ResponseId);
    }

    private void BindCompletion(DbCommand command, UsageRecord r)
    {
        command.Parameters.Clear();
        command.With("@input_tokens", r.InputTokens).With("@cached_tokens", r.CachedTokens).With("@output_tokens", r.OutputTokens)
            .With("@reasoning_tokens", r.ReasoningTokens).With("@audio_ms", r.AudioMs).With("@estimated", r.Estimated)
            .With("@cost_micros", OrNull(r.CostMicros)).With("@outcome", r.Outcome.ToName())
            .With("@ended_at", r.EndedAt is { } ended ? database.ToDbTimestamp(ended) : DBNull.Value)
            .With("@model", OrNull(r.Model)).With("@response_id", r.ResponseId!);
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
        AudioMs = reader.ReadLong(22),
        ResponseId = reader.ReadNullableString(23),
    };
}

using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;
using OpenAiRelay.Telemetry;

namespace OpenAiRelay.Admin;

/// <summary>
/// What the web console reads beyond the CLI's endpoints, under the same admin guard: time-bucketed series, a range's
/// totals and percentiles, the ledger rows (JSON pages or one CSV download) and the requests in flight. Ranges are
/// required to be bounded (default: the last 24 hours), so no call reads the whole ledger.
/// </summary>
internal static partial class AdminEndpoints
{
    private static readonly TimeSpan s_defaultRange = TimeSpan.FromDays(1);
    private static readonly TimeSpan s_maxRange = TimeSpan.FromDays(400);
    private static readonly TimeSpan s_maxHourlyRange = TimeSpan.FromDays(31);
    private const int MaxCsvRows = 100_000;

    private static void MapConsoleApi(RouteGroupBuilder admin)
    {
        admin.MapGet("/usage/series", SeriesAsync);
        admin.MapGet("/usage/stats", StatsAsync);
        admin.MapGet("/usage/rows", RowsAsync);
        admin.MapGet("/live", LiveAsync);
    }

    private static async Task<IResult> SeriesAsync(HttpContext context, UsageReports reports, TimeProvider time, string? bucket, string? by, string? since, string? until, int? limit)
    {
        if (!TryRange(since, until, time, out var from, out var to, out var error))
        {
            return Error(context, AdminErrors.BadRequest(error));
        }

        UsageBucket size;
        switch (bucket)
        {
            case null or "" or "hour": size = UsageBucket.Hour; break;
            case "day": size = UsageBucket.Day; break;
            default: return Error(context, AdminErrors.BadRequest("bucket must be hour or day."));
        }

        if (size == UsageBucket.Hour && to - from > s_maxHourlyRange)
        {
            return Error(context, AdminErrors.BadRequest("An hourly series covers at most 31 days; use bucket=day for longer ranges."));
        }

        UsageSeriesGrouping grouping;
        switch (by)
        {
            case null or "" or "total": grouping = UsageSeriesGrouping.Total; break;
            case "key": grouping = UsageSeriesGrouping.Key; break;
            case "model": grouping = UsageSeriesGrouping.Model; break;
            default: return Error(context, AdminErrors.BadRequest("by must be total, key or model."));
        }

        try
        {
            var series = await reports.SeriesAsync(size, grouping, from, to, Math.Clamp(limit ?? 10, 1, 50), context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("object", "usage.series");
                writer.WriteString("bucket", size == UsageBucket.Hour ? "hour" : "day");
                writer.WriteString("by", grouping.ToString().ToLowerInvariant());
                writer.WriteString("since", from);
                writer.WriteString("until", to);
                writer.WriteStartArray("groups");
                foreach (var group in series.Groups)
                {
                    writer.WriteStringValue(group);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data");
                foreach (var point in series.Points)
                {
                    writer.WriteStartObject();
                    writer.WriteString("start", point.Start);
                    writer.WriteString("group", point.Group);
                    WriteTotals(writer, point.Totals);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            });
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> StatsAsync(HttpContext context, UsageReports reports, TimeProvider time, string? since, string? until)
    {
        if (!TryRange(since, until, time, out var from, out var to, out var error))
        {
            return Error(context, AdminErrors.BadRequest(error));
        }

        try
        {
            var stats = await reports.StatsAsync(from, to, top: 5, context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("object", "usage.stats");
                writer.WriteString("since", from);
                writer.WriteString("until", to);
                WriteTotals(writer, stats.Totals);
                writer.WriteNumber("error_rate", stats.Totals.Requests == 0 ? 0 : Math.Round((double)stats.Totals.Errors / stats.Totals.Requests, 4));
                WritePercentiles(writer, "latency_ms", stats.LatencyMs);
                // The ledger's time to first byte: for an event stream, the first token's.
                WritePercentiles(writer, "ttft_ms", stats.FirstByteMs);
                WriteGroups(writer, "top_keys", stats.TopKeys);
                WriteGroups(writer, "top_models", stats.TopModels);
                writer.WriteEndObject();
            });
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> RowsAsync(
        HttpContext context, UsageReports reports, TimeProvider time, string? since, string? until, string? key, string? model, string? outcome, int? limit, string? before, string? format)
    {
        if (!TryRange(since, until, time, out var from, out var to, out var error))
        {
            return Error(context, AdminErrors.BadRequest(error));
        }

        if (outcome is { Length: > 0 } && !IsOutcome(outcome))
        {
            return Error(context, AdminErrors.BadRequest("outcome must be one of completed, client_cancelled, upstream_error, timeout, rejected, interrupted, background, in_flight."));
        }

        UsageRowCursor? cursor = null;
        if (before is { Length: > 0 } && !TryReadCursor(before, out cursor))
        {
            return Error(context, AdminErrors.BadRequest("before must be a next_cursor this endpoint returned."));
        }

        var filter = new UsageRowFilter(from, to, NullIfEmpty(key), NullIfEmpty(model), NullIfEmpty(outcome), cursor);
        try
        {
            if (format == "csv")
            {
                return await CsvAsync(context, reports, filter);
            }

            if (format is { Length: > 0 } and not "json")
            {
                return Error(context, AdminErrors.BadRequest("format must be json or csv."));
            }

            var page = await reports.RowsAsync(filter, Math.Clamp(limit ?? 100, 1, 1000), context.RequestAborted);
            return Json(StatusCodes.Status200OK, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("object", "list");
                writer.WriteStartArray("data");
                foreach (var row in page.Rows)
                {
                    WriteRow(writer, row);
                }

                writer.WriteEndArray();
                writer.WriteBoolean("has_more", page.Next is not null);
                if (page.Next is { } next)
                {
                    writer.WriteString("next_cursor", WriteCursor(next));
                }
                else
                {
                    writer.WriteNull("next_cursor");
                }

                writer.WriteEndObject();
            });
        }
        catch (DbException)
        {
            return Error(context, AdminErrors.StorageUnavailable);
        }
    }

    private static async Task<IResult> LiveAsync(HttpContext context, RequestsInFlight inFlight, ActiveStreams streams, ClientKeyStore keys, TimeProvider time)
    {
        var requests = inFlight.List(200);
        // Names for people; the label (the key's public part) stays beside it, as in the ledger and the logs.
        IReadOnlyDictionary<string, string> names = new Dictionary<string, string>();
        if (requests.Any(r => r.KeyId is not null))
        {
            try
            {
                names = (await keys.ListAsync(context.RequestAborted)).ToDictionary(k => k.KeyId, k => k.Name, StringComparer.Ordinal);
            }
            catch (DbException)
            {
                // The live view needs no database: without it, keys show by label.
            }
        }

        return Live(inFlight, streams, time, requests, names);
    }

    private static IResult Live(RequestsInFlight inFlight, ActiveStreams streams, TimeProvider time, IReadOnlyList<InFlightRequest> requests, IReadOnlyDictionary<string, string> names) => Json(StatusCodes.Status200OK, writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("object", "relay.live");
        writer.WriteString("now", time.GetUtcNow());
        writer.WriteNumber("requests_in_flight", inFlight.Count);
        writer.WriteStartObject("streams");
        writer.WriteNumber("sse", streams.EventStreams);
        writer.WriteNumber("websocket", streams.WebSockets);
        writer.WriteEndObject();
        writer.WriteStartArray("requests");
        foreach (var request in requests)
        {
            writer.WriteStartObject();
            writer.WriteString("request_id", request.RequestId);
            writer.WriteString("method", request.Method);
            writer.WriteString("endpoint", request.Path);
            AdminJson.WriteStringOrNull(writer, "key", request.KeyId is { } keyId && names.TryGetValue(keyId, out var name) ? name : request.ClientLabel);
            AdminJson.WriteStringOrNull(writer, "key_label", request.ClientLabel);
            AdminJson.WriteStringOrNull(writer, "model", request.Model);
            writer.WriteString("stream", request.Stream switch
            {
                ResponseStreamKind.EventStream => "sse",
                ResponseStreamKind.WebSocket => "websocket",
                _ => "none",
            });
            writer.WriteString("started_at", request.StartedAt);
            writer.WriteNumber("elapsed_ms", (long)request.Elapsed.TotalMilliseconds);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    /// <summary>Every matching row, newest first, up to <see cref="MaxCsvRows"/>, written page by page as it is read.</summary>
    private static async Task<IResult> CsvAsync(HttpContext context, UsageReports reports, UsageRowFilter filter)
    {
        // The first page is read before the answer starts, so a database that does not answer is still a clean 503.
        var page = await reports.RowsAsync(filter, 1000, context.RequestAborted);
        var name = $"usage-{filter.Since.UtcDateTime:yyyyMMdd'T'HHmm}-{filter.Until.UtcDateTime:yyyyMMdd'T'HHmm}.csv";
        return Results.Stream(
            async body =>
            {
                await using var writer = new StreamWriter(body, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 16 * 1024);
                await writer.WriteAsync(CsvText.Header);
                var written = 0;
                while (true)
                {
                    foreach (var row in page.Rows)
                    {
                        if (written++ == MaxCsvRows)
                        {
                            return;
                        }

                        await writer.WriteAsync(CsvText.Row(row));
                    }

                    if (page.Next is null)
                    {
                        return;
                    }

                    await writer.FlushAsync(context.RequestAborted);
                    page = await reports.RowsAsync(filter with { Before = page.Next }, 1000, context.RequestAborted);
                }
            },
            "text/csv; charset=utf-8",
            name);
    }

    private static bool TryRange(string? since, string? until, TimeProvider time, out DateTimeOffset from, out DateTimeOffset to, out string error)
    {
        error = string.Empty;
        to = time.GetUtcNow();
        from = to - s_defaultRange;
        if (!UsageQueryText.TryParse(since, until, null, out var query, out var parseError))
        {
            error = parseError! + ".";
            return false;
        }

        to = query.Until ?? to;
        from = query.Since ?? to - s_defaultRange;
        if (from >= to)
        {
            error = "since must be before until.";
            return false;
        }

        if (to - from > s_maxRange)
        {
            error = "A range covers at most 400 days.";
            return false;
        }

        return true;
    }

    private static bool IsOutcome(string outcome)
    {
        try
        {
            _ = UsageOutcomeNames.Parse(outcome);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    // The cursor is the last row's position, opaque to callers: base64url of "<ticks>:<request id>".
    private static string WriteCursor(UsageRowCursor cursor)
        => Convert.ToBase64String(Encoding.UTF8.GetBytes(cursor.StartedAt.UtcTicks.ToString(CultureInfo.InvariantCulture) + ":" + cursor.RequestId))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryReadCursor(string text, out UsageRowCursor? cursor)
    {
        cursor = null;
        if (text.Length > 200)
        {
            return false;
        }

        var base64 = text.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        Span<byte> bytes = stackalloc byte[200];
        if (!Convert.TryFromBase64String(base64, bytes, out var length))
        {
            return false;
        }

        var decoded = Encoding.UTF8.GetString(bytes[..length]);
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !long.TryParse(decoded.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        cursor = new UsageRowCursor(new DateTimeOffset(ticks, TimeSpan.Zero), decoded[(colon + 1)..]);
        return true;
    }

    private static void WriteTotals(Utf8JsonWriter writer, UsageTotals totals)
    {
        writer.WriteNumber("requests", totals.Requests);
        writer.WriteNumber("errors", totals.Errors);
        writer.WriteNumber("input_tokens", totals.InputTokens);
        writer.WriteNumber("cached_input_tokens", totals.CachedInputTokens);
        writer.WriteNumber("output_tokens", totals.OutputTokens);
        writer.WriteNumber("reasoning_tokens", totals.ReasoningTokens);
        writer.WriteNumber("cost_micros", totals.CostMicros);
        writer.WriteString("cost_usd", AdminJson.FormatUsd(totals.CostMicros));
    }

    private static void WritePercentiles(Utf8JsonWriter writer, string name, UsagePercentiles? percentiles)
    {
        writer.WriteStartObject(name);
        AdminJson.WriteNumberOrNull(writer, "p50", percentiles?.P50);
        AdminJson.WriteNumberOrNull(writer, "p95", percentiles?.P95);
        writer.WriteEndObject();
    }

    private static void WriteGroups(Utf8JsonWriter writer, string name, IReadOnlyList<UsageGroupTotal> groups)
    {
        writer.WriteStartArray(name);
        foreach (var group in groups)
        {
            writer.WriteStartObject();
            writer.WriteString("group", group.Group);
            WriteTotals(writer, group.Totals);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteRow(Utf8JsonWriter writer, UsageRow row)
    {
        writer.WriteStartObject();
        writer.WriteString("request_id", row.RequestId);
        writer.WriteString("started_at", row.StartedAt);
        AdminJson.WriteStringOrNull(writer, "key", row.KeyName);
        writer.WriteString("key_label", row.KeyLabel);
        AdminJson.WriteStringOrNull(writer, "model", row.Model);
        writer.WriteString("endpoint", row.Endpoint);
        writer.WriteString("method", row.Method);
        writer.WriteNumber("status", row.Status);
        writer.WriteString("outcome", row.Outcome);
        writer.WriteNumber("input_tokens", row.InputTokens);
        writer.WriteNumber("cached_input_tokens", row.CachedInputTokens);
        writer.WriteNumber("output_tokens", row.OutputTokens);
        writer.WriteNumber("reasoning_tokens", row.ReasoningTokens);
        writer.WriteBoolean("estimated", row.Estimated);
        AdminJson.WriteNumberOrNull(writer, "cost_micros", row.CostMicros);
        AdminJson.WriteStringOrNull(writer, "cost_usd", row.CostMicros is { } cost ? AdminJson.FormatUsd(cost) : null);
        writer.WriteNumber("latency_ms", row.LatencyMs);
        AdminJson.WriteNumberOrNull(writer, "ttft_ms", row.FirstByteMs);

        writer.WriteEndObject();
    }
}

using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Ledger;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The relay's instruments, on the <see cref="RelayDiagnostics.Name"/> meter: the OpenTelemetry GenAI server metrics
/// and <c>gen_ai.client.token.usage</c>, and the relay's own <c>relay.*</c> counters (docs/observability.md lists
/// every one with its labels). Everything per request is recorded once, from the settled record, so a request that
/// was cancelled, refused or failed is counted like any other (the envoy-aigw#2115 lesson), and the token and cost
/// counters add exactly what the ledger rows hold. With no exporter listening, a request costs one check.
/// </summary>
internal sealed class RelayMetrics : IRelayRequestObserver
{
    private static readonly string[] s_statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    private readonly Counter<long> _requests;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _upstreamErrors;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _cost;
    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    private readonly BoundedLabels _keys;
    private readonly ModelLabels _models;

    public RelayMetrics(
        IMeterFactory meters,
        IOptions<MetricsOptions> options,
        PriceTable prices,
        ActiveStreams streams,
        KeyAuthenticator keyAuthenticator,
        UsageLedger ledger,
        UsageLedgerJournal journal)
    {
        _keys = new BoundedLabels(options.Value.MaxKeySeries, "other");
        _models = new ModelLabels(prices, options.Value.MaxModelSeries);
        var meter = meters.Create(RelayDiagnostics.Name);

        // The GenAI semantic conventions (open-telemetry/semantic-conventions-genai, Development status), with the
        // bucket boundaries they recommend.
        _tokenUsage = meter.CreateHistogram<long>(
            "gen_ai.client.token.usage", "{token}", "Tokens the upstream reported for one operation, by gen_ai.token.type.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] });
        _requestDuration = meter.CreateHistogram<double>(
            "gen_ai.server.request.duration", "s", "From the request received to the last byte of its answer written to the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });
        _timeToFirstToken = meter.CreateHistogram<double>(
            "gen_ai.server.time_to_first_token", "s", "Streams: from the request received to the first byte of the stream written to the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0] });
        _timePerOutputToken = meter.CreateHistogram<double>(
            "gen_ai.server.time_per_output_token", "s", "Streams: (duration - time to first token) / (output tokens - 1).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5] });

        _requests = meter.CreateCounter<long>("relay.requests", "{request}", "Finished /v1 requests by endpoint, status class and outcome.");
        _bytes = meter.CreateCounter<long>("relay.bytes", "By", "Body bytes read from clients (in) and written to them (out).");
        _refusals = meter.CreateCounter<long>("relay.refusals", "{request}", "Requests the relay answered itself, by reason (auth, rpm, budget, isolation, ...).");
        _upstreamErrors = meter.CreateCounter<long>("relay.upstream.errors", "{request}", "Upstream calls that failed: connect errors, resets, idle timeouts.");
        _tokens = meter.CreateCounter<long>(
            "relay.tokens", "{token}", "Tokens of settled ledger rows by key, model, relay.token.type and relay.usage.source (exact or estimated).");
        _cost = meter.CreateCounter<long>(
            "relay.cost.micro_usd", "{micro_usd}", "Cost of settled ledger rows in integer micro-dollars (exactly the ledger's), by key, model and relay.usage.source.");

        meter.CreateObservableUpDownCounter("relay.streams.active", () => new[]
        {
            new Measurement<long>(streams.EventStreams, new KeyValuePair<string, object?>("relay.stream.kind", "sse")),
            new Measurement<long>(streams.WebSockets, new KeyValuePair<string, object?>("relay.stream.kind", "websocket")),
        }, "{stream}", "Event streams and WebSocket sessions being relayed now.");
        meter.CreateObservableCounter("relay.key_cache.lookups", () => new[]
        {
            new Measurement<long>(keyAuthenticator.CacheHits, new KeyValuePair<string, object?>("relay.cache.result", "hit")),
            new Measurement<long>(keyAuthenticator.Lookups, new KeyValuePair<string, object?>("relay.cache.result", "miss")),
        }, "{lookup}", "Client key checks answered from the cache (hit) or the database (miss).");
        meter.CreateObservableUpDownCounter("relay.ledger.queue", () => new[]
        {
            new Measurement<long>(ledger.Pending, new KeyValuePair<string, object?>("relay.ledger.queue", "database")),
            new Measurement<long>(ledger.Overflowing, new KeyValuePair<string, object?>("relay.ledger.queue", "journal")),
        }, "{row}", "Usage rows waiting for the database writer, and rows that found the queue full waiting for the journal.");
        meter.CreateObservableUpDownCounter("relay.ledger.journal", () => JournalBytes(journal), "By",
            "Size of the fallback journal: rows written while the database failed, replayed when it works again. 0 when healthy.");
    }

    public void OnRequestFinished(RelayRequestRecord record)
    {
        if (!_requests.Enabled)
        {
            return;
        }

        var endpoint = EndpointLabel.OfPath(record.Path);
        var statusClass = record.StatusCode is >= 100 and < 600 ? s_statusClasses[(record.StatusCode / 100) - 1] : "other";
        _requests.Add(1, new("relay.endpoint", endpoint), new("relay.status_class", statusClass), new("relay.outcome", OutcomeLabel.Of(record.Outcome)));
        _bytes.Add(record.BytesIn, new KeyValuePair<string, object?>("relay.endpoint", endpoint), new("relay.direction", "in"));
        _bytes.Add(record.BytesOut, new KeyValuePair<string, object?>("relay.endpoint", endpoint), new("relay.direction", "out"));
        var error = ErrorType.Of(record);
        if (record.Outcome == RequestOutcome.Rejected)
        {
            _refusals.Add(1, new KeyValuePair<string, object?>("relay.refusal.reason", error));
        }
        else if (record.Outcome is RequestOutcome.UpstreamError or RequestOutcome.UpstreamTimeout)
        {
            _upstreamErrors.Add(1, new KeyValuePair<string, object?>("error.type", error));
        }

        if (GenAiOperation.Of(record) is { } operation)
        {
            RecordOperation(record, operation, error);
        }

        if (record.Usage is { } usage)
        {
            RecordSpend(usage);
        }

        if (record.CompletedBackground is { } completion)
        {
            RecordSpend(completion);
        }
    }

    private void RecordOperation(RelayRequestRecord record, string operation, string? error)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", operation },
            { "gen_ai.provider.name", GenAiOperation.Provider },
        };
        if (_models.Of(record.RequestedModel) is { } requested)
        {
            tags.Add("gen_ai.request.model", requested);
        }

        if (_models.Of(record.ResponseModel) is { } responded)
        {
            tags.Add("gen_ai.response.model", responded);
        }

        var usage = record.Usage;
        // The upstream's own numbers only: an estimate (a stream cut short) is not what the upstream reported, and a
        // background generation reports its usage on a later read. Embeddings have no output tokens.
        if (usage is { Estimated: false } && usage.Outcome != UsageOutcome.Background && operation != GenAiOperation.FetchResponse
            && (usage.InputTokens > 0 || usage.OutputTokens > 0))
        {
            var input = tags;
            input.Add("gen_ai.token.type", "input");
            _tokenUsage.Record(usage.InputTokens, input);
            if (operation != GenAiOperation.Embeddings)
            {
                var output = tags;
                output.Add("gen_ai.token.type", "output");
                _tokenUsage.Record(usage.OutputTokens, output);
            }
        }

        var durationTags = tags;
        if (error is not null)
        {
            durationTags.Add("error.type", error);
        }

        var seconds = record.DurationMs / 1000;
        _requestDuration.Record(seconds, durationTags);
        if (record.Stream == ResponseStreamKind.EventStream && record.FirstByteMs is { } firstByteMs && error is null)
        {
            _timeToFirstToken.Record(firstByteMs / 1000, tags);
            if (usage is { Estimated: false, OutputTokens: > 1 } streamed)
            {
                _timePerOutputToken.Record((seconds - (firstByteMs / 1000)) / (streamed.OutputTokens - 1), tags);
            }
        }
    }

    /// <summary>A settled ledger row's tokens and cost: the same integers the ledger holds, split so they add up.</summary>
    private void RecordSpend(UsageRecord row)
    {
        if (row.InputTokens == 0 && row.OutputTokens == 0 && row.CostMicros is null or 0)
        {
            return;
        }

        var key = _keys.Of(row.KeyLabel);
        var model = _models.Of(row.Model) ?? "none";
        var source = row.Estimated ? "estimated" : "exact";
        AddTokens(row.InputTokens - row.CachedTokens, key, model, "input", source);
        AddTokens(row.CachedTokens, key, model, "cached_input", source);
        AddTokens(row.OutputTokens - row.ReasoningTokens, key, model, "output", source);
        AddTokens(row.ReasoningTokens, key, model, "reasoning", source);
        if (row.CostMicros is { } cost and > 0)
        {
            _cost.Add(cost, new KeyValuePair<string, object?>("relay.key", key), new("gen_ai.request.model", model), new("relay.usage.source", source));
        }
    }

    private void AddTokens(long count, string key, string model, string type, string source)
    {
        if (count > 0)
        {
            _tokens.Add(count, new("relay.key", key), new("gen_ai.request.model", model), new("relay.token.type", type), new("relay.usage.source", source));
        }
    }

    private static long JournalBytes(UsageLedgerJournal journal)
    {
        try
        {
            var file = new FileInfo(journal.Path);
            return file.Exists ? file.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

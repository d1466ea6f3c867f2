using OpenAiRelay.Authentication;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Metering;

/// <summary>
/// Turns what a request's meter saw into its ledger rows: the in-flight row written before forwarding and the one
/// final row written when the request ends, however it ends. Real usage when the upstream reported it; otherwise,
/// for a generation endpoint that may have produced tokens, an estimate from the tokenizer, flagged as such.
/// </summary>
internal sealed class UsageSettlement
{
    private readonly HttpContext _context;
    private readonly ClientIdentity _client;
    private readonly RequestMeter _meter;
    private readonly IRelayRequestFeature _request;

    public UsageSettlement(HttpContext context, ClientIdentity client, RequestMeter meter, IRelayRequestFeature request, DateTimeOffset startedAt)
    {
        _context = context;
        _client = client;
        _meter = meter;
        _request = request;
        StartedAt = startedAt;
    }

    public DateTimeOffset StartedAt { get; }

    /// <summary>The in-flight row: what a crash from here on leaves for the reconciler to settle at the next start.</summary>
    public UsageRecord Opening() => Record(UsageOutcome.InFlight, status: 0) with
    {
        BytesIn = _context.Request.ContentLength ?? 0,
    };

    /// <summary>The final row, from the usage the meter read (once) or an estimate flagged as one.</summary>
    public UsageRecord Final(DateTimeOffset endedAt) => Final(endedAt, readMeter: true);

    /// <summary>
    /// The final row when reading the meter itself failed: the row is still settled (never left in flight), with the
    /// admission estimate and without touching what the meter holds.
    /// </summary>
    public UsageRecord FinalWithoutUsage(DateTimeOffset endedAt) => Final(endedAt, readMeter: false);

    private UsageRecord Final(DateTimeOffset endedAt, bool readMeter)
    {
        var status = _context.Response.StatusCode;
        var outcome = OutcomeOf(_request.Outcome, status);
        var meter = _meter;
        var walker = meter.Walker;

        // Only a generation bills usage. A read of a stored object (GET /responses/{id}, /chat/completions/{id}, a
        // batch) carries the usage of a generation that was billed when it ran: billing it again was how one
        // response retrieved three times cost four. Usage that failed validation counts as never reported.
        var usage = readMeter && meter.ExpectsUsage && !meter.UsageRejected ? meter.Usage : null;

        // A background generation the upstream accepted but had not finished: it waits, under its response id, for
        // the first read that shows its final status (BackgroundCompletion), instead of an estimate or a zero now.
        string? waitingResponseId = null;
        if (readMeter && meter.Background && usage is null && status < 400 && walker.ResponseId is { } responseId
            && !MeteredEndpoints.IsFinalResponseStatus(walker.ResponseStatus))
        {
            waitingResponseId = responseId;
            outcome = UsageOutcome.Background;
        }

        // Otherwise an upstream error answered before any generation (a 4xx/5xx passed through, or no connection at
        // all) is not billed, and everything else on a generation endpoint may have cost tokens: estimate, never a
        // silent zero.
        var estimate = usage is null
            && waitingResponseId is null
            && meter.ExpectsUsage
            && (outcome is UsageOutcome.Completed or UsageOutcome.ClientCancelled or UsageOutcome.Timeout
                || (outcome == UsageOutcome.UpstreamError && status < 400));

        var latency = System.Diagnostics.Stopwatch.GetElapsedTime(_request.StartTimestamp);
        var firstByte = _request.FirstByteTimestamp;
        return Record(outcome, status) with
        {
            Model = readMeter ? meter.Model : meter.RequestedModel,
            EndedAt = endedAt,
            LatencyMs = (long)latency.TotalMilliseconds,
            TtfbMs = firstByte == 0 ? null : (long)System.Diagnostics.Stopwatch.GetElapsedTime(_request.StartTimestamp, firstByte).TotalMilliseconds,
            BytesIn = _request.BytesIn,
            BytesOut = _request.BytesOut,
            UpstreamRequestId = _context.Features.Get<IUpstreamResponseFeature>()?.RequestId,
            InputTokens = usage?.Input ?? (estimate ? meter.PromptEstimate : 0),
            CachedTokens = usage?.Cached ?? 0,
            OutputTokens = usage?.Output ?? (estimate && readMeter && walker.DeltaText.Length > 0 ? TokenEstimator.CountText(walker.DeltaText.ToString(), meter.Model) : 0),
            ReasoningTokens = usage?.Reasoning ?? 0,
            AudioMs = usage?.AudioMilliseconds ?? 0,
            Estimated = estimate,
            ResponseId = waitingResponseId,
        };
    }

    /// <summary>
    /// A read of a stored response that shows a background generation's final status and valid usage: the record
    /// that settles the generation's waiting row (if it still waits; the store's conditional update sees to once).
    /// Null for every other read.
    /// </summary>
    public UsageRecord? BackgroundCompletion(DateTimeOffset endedAt)
    {
        var walker = _meter.Walker;
        var status = _context.Response.StatusCode;
        if (!_meter.ReadsStoredResponse || status >= 400 || walker.ResponseId is not { } responseId
            || !MeteredEndpoints.IsFinalResponseStatus(walker.ResponseStatus) || walker.UsageRejected || walker.Usage is not { } usage)
        {
            return null;
        }

        var outcome = walker.ResponseStatus switch
        {
            "failed" => UsageOutcome.UpstreamError,
            "cancelled" => UsageOutcome.ClientCancelled,
            _ => UsageOutcome.Completed,
        };
        return Record(outcome, status) with
        {
            RequestId = "background:" + _request.RequestId,
            Model = walker.Model,
            StartedAt = endedAt,
            EndedAt = endedAt,
            EstimatedInputTokens = 0,
            InputTokens = usage.Input,
            CachedTokens = usage.Cached,
            OutputTokens = usage.Output,
            ReasoningTokens = usage.Reasoning,
            AudioMs = usage.AudioMilliseconds,
            ResponseId = responseId,
            CompletesBackground = true,
        };
    }

    /// <summary>The fields every row of this request shares: the one place a row's identity is built.</summary>
    private UsageRecord Record(UsageOutcome outcome, int status) => new()
    {
        RequestId = _request.RequestId,
        KeyId = _client.LedgerKeyId,
        KeyLabel = _client.Label,
        Model = _meter.RequestedModel,
        Endpoint = _meter.Endpoint,
        Method = _context.Request.Method,
        Status = status,
        Outcome = outcome,
        StartedAt = StartedAt,
        EstimatedInputTokens = _meter.PromptEstimate,
    };

    /// <summary>How the ledger names the way a request ended; an error status passed through is an upstream error.</summary>
    public static UsageOutcome OutcomeOf(RequestOutcome outcome, int status) => outcome switch
    {
        RequestOutcome.ClientCancelled => UsageOutcome.ClientCancelled,
        RequestOutcome.UpstreamTimeout => UsageOutcome.Timeout,
        RequestOutcome.UpstreamError => UsageOutcome.UpstreamError,
        RequestOutcome.Rejected => UsageOutcome.Rejected,
        _ when status >= 400 => UsageOutcome.UpstreamError,
        _ => UsageOutcome.Completed,
    };
}

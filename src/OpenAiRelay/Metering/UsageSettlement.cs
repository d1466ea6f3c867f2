using OpenAiRelay.Telemetry;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Metering;

/// <summary>
/// Turns what a request's meter saw into its ledger rows: the in-flight row written before forwarding and the one
/// final row written when the request ends, however it ends. Real usage when the upstream reported it; otherwise,
/// for a generation endpoint that may have produced tokens, an estimate from the tokenizer, flagged as such.
/// </summary>
internal static class UsageSettlement
{
    public static UsageRecord Opening(HttpContext context, RelayRequestState state, RequestMeter meter, DateTimeOffset startedAt) => new()
    {
        RequestId = context.TraceIdentifier,
        KeyId = state.Client!.LedgerKeyId,
        KeyLabel = state.Client.Label,
        Model = meter.RequestedModel,
        Endpoint = meter.Endpoint,
        Method = context.Request.Method,
        Outcome = UsageOutcome.InFlight,
        StartedAt = startedAt,
        EstimatedInputTokens = meter.PromptEstimate,
        BytesIn = context.Request.ContentLength ?? 0,
    };

    public static UsageRecord Final(
        HttpContext context, RelayRequestState state, RequestMeter meter, DateTimeOffset startedAt, DateTimeOffset endedAt, double latencyMs, double? ttfbMs)
    {
        var status = context.Response.StatusCode;
        var outcome = OutcomeOf(state.Outcome, status);
        var walker = meter.Walker;

        // Only a generation bills usage. A read of a stored object (GET /responses/{id}, /chat/completions/{id}, a
        // batch) carries the usage of a generation that was billed when it ran: billing it again was how one
        // response retrieved three times cost four.
        var usage = meter.ExpectsUsage && !meter.UsageRejected ? meter.Usage : null;

        // A background generation the upstream accepted but had not finished: it waits, under its response id, for
        // the first read that shows its final status (SettleBackground), instead of an estimate or a zero now.
        string? waitingResponseId = null;
        if (meter.Background && usage is null && status < 400 && walker.ResponseId is { } responseId
            && !MeteredEndpoints.IsFinalResponseStatus(walker.ResponseStatus))
        {
            waitingResponseId = responseId;
            outcome = UsageOutcome.Background;
        }

        // Real usage when the upstream reported it. Otherwise an upstream error answered before any generation (a
        // 4xx/5xx passed through, or no connection at all) is not billed, and everything else on a generation
        // endpoint may have cost tokens: estimate, never a silent zero. Usage that failed validation (negative,
        // fractional, absurd, duplicated) counts as never reported.
        var estimate = usage is null
            && waitingResponseId is null
            && meter.ExpectsUsage
            && (outcome is UsageOutcome.Completed or UsageOutcome.ClientCancelled or UsageOutcome.Timeout
                || (outcome == UsageOutcome.UpstreamError && status < 400));

        // One record built once (it used to be the opening row copied by `with` two or three times per request).
        return new UsageRecord
        {
            RequestId = context.TraceIdentifier,
            KeyId = state.Client!.LedgerKeyId,
            KeyLabel = state.Client.Label,
            Model = meter.Model,
            Endpoint = meter.Endpoint,
            Method = context.Request.Method,
            Status = status,
            Outcome = outcome,
            StartedAt = startedAt,
            EndedAt = endedAt,
            EstimatedInputTokens = meter.PromptEstimate,
            LatencyMs = (long)latencyMs,
            TtfbMs = ttfbMs is { } ttfb ? (long)ttfb : null,
            BytesIn = state.RequestBody?.BytesRead ?? context.Request.ContentLength ?? 0,
            BytesOut = state.ResponseBody?.BytesWritten ?? 0,
            UpstreamRequestId = state.UpstreamRequestId,
            InputTokens = usage?.Input ?? (estimate ? meter.PromptEstimate : 0),
            CachedTokens = usage?.Cached ?? 0,
            OutputTokens = usage?.Output ?? (estimate && walker.DeltaText.Length > 0 ? TokenEstimator.CountText(walker.DeltaText.ToString(), meter.Model) : 0),
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
    public static UsageRecord? BackgroundCompletion(HttpContext context, RelayRequestState state, RequestMeter meter, DateTimeOffset endedAt)
    {
        var walker = meter.Walker;
        if (!meter.ReadsStoredResponse || context.Response.StatusCode >= 400 || walker.ResponseId is not { } responseId
            || !MeteredEndpoints.IsFinalResponseStatus(walker.ResponseStatus) || walker.UsageRejected || walker.Usage is not { } usage)
        {
            return null;
        }

        return new UsageRecord
        {
            RequestId = "background:" + context.TraceIdentifier,
            KeyId = state.Client!.LedgerKeyId,
            KeyLabel = state.Client.Label,
            Model = walker.Model,
            Endpoint = meter.Endpoint,
            Method = context.Request.Method,
            Status = context.Response.StatusCode,
            Outcome = walker.ResponseStatus switch
            {
                "failed" => UsageOutcome.UpstreamError,
                "cancelled" => UsageOutcome.ClientCancelled,
                _ => UsageOutcome.Completed,
            },
            StartedAt = endedAt,
            EndedAt = endedAt,
            InputTokens = usage.Input,
            CachedTokens = usage.Cached,
            OutputTokens = usage.Output,
            ReasoningTokens = usage.Reasoning,
            AudioMs = usage.AudioMilliseconds,
            ResponseId = responseId,
            CompletesBackground = true,
        };
    }

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

using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using OpenAiRelay.Metering;
using OpenAiRelay.Streams;
using OpenAiRelay.Ledger;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// Writes exactly one structured line per relayed request: method, path (never the query), status, duration,
/// bytes each way, the upstream <c>x-request-id</c>, the client's label and address, the connection it came on and how
/// the request ended. No header value is logged, so no token or key can reach the log.
/// </summary>
internal sealed partial class RequestLogMiddleware(RequestDelegate next, IUsageLedger ledger, TimeProvider time, ILogger<RequestLogMiddleware> logger)
{
    public const string RelayRequestIdHeader = "x-relay-request-id";

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        // Unique across restarts and instances (it keys the ledger row), and time-ordered.
        context.TraceIdentifier = Guid.CreateVersion7().ToString("N");
        var state = new RelayRequestState();
        context.Features.Set(state);
        context.Response.Headers[RelayRequestIdHeader] = context.TraceIdentifier;

        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            state.RequestBody = new CountingReadStream(context.Request.Body);
            context.Request.Body = state.RequestBody;
        }

        state.ResponseBody = new CountingWriteStream(context.Response.Body);
        context.Response.Body = state.ResponseBody;
        try
        {
            await next(context);
        }
        catch
        {
            // An unhandled exception is the relay's failure, not a completed request: the row is settled as an error
            // (with an estimate when the response had started) and the exception goes on to the host.
            if (state.Outcome == RequestOutcome.Completed)
            {
                state.Outcome = RequestOutcome.UpstreamError;
            }

            throw;
        }
        finally
        {
            if (context.RequestAborted.IsCancellationRequested && state.Outcome == RequestOutcome.Completed)
            {
                state.Outcome = RequestOutcome.ClientCancelled;
            }
            else if (state.Outcome == RequestOutcome.Completed)
            {
                await ReleaseHeldBytesAsync(context, state.ResponseBody);
            }

            var firstByte = state.ResponseBody.FirstByteTimestamp;
            var durationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            double? firstByteMs = firstByte == 0 ? null : Stopwatch.GetElapsedTime(started, firstByte).TotalMilliseconds;
            UsageRecord? settled = null;
            if (state is { LedgerOpen: true, Meter: { } meter })
            {
                try
                {
                    settled = UsageSettlement.Final(context, state, meter, state.StartedAt, time.GetUtcNow(), durationMs, firstByteMs);
                }
#pragma warning disable CA1031 // The row must be settled whatever went wrong reading usage: never left in flight.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogSettlementFailed(logger, e.GetType().Name);
                    settled = UsageSettlement.Opening(context, state, meter, state.StartedAt) with
                    {
                        Outcome = UsageSettlement.OutcomeOf(state.Outcome, context.Response.StatusCode),
                        Status = context.Response.StatusCode,
                        EndedAt = time.GetUtcNow(),
                        LatencyMs = (long)durationMs,
                        InputTokens = meter.PromptEstimate,
                        Estimated = true,
                    };
                }

                ledger.Settle(settled);
                if (TryBackgroundCompletion(context, state, meter) is { } completion)
                {
                    ledger.Settle(completion);
                }
            }

            LogRequest(
                logger,
                context.Request.Method,
                context.Request.Path.Value,
                context.Response.StatusCode,
                durationMs,
                firstByteMs,
                state.RequestBody?.BytesRead ?? 0,
                state.ResponseBody.BytesWritten,
                state.Client?.Label ?? "-",
                // After UseForwardedHeaders: the X-Forwarded-For address when the peer is a trusted proxy (nginx).
                context.Connection.RemoteIpAddress?.ToString() ?? "-",
                // Kestrel's connection id: requests sharing it came over one kept-alive connection (from nginx).
                context.Connection.Id,
                state.UpstreamRequestId ?? "-",
                state.Outcome,
                settled?.InputTokens ?? 0,
                settled?.OutputTokens ?? 0,
                settled?.Estimated == true ? "estimated" : "exact");
        }
    }

    private UsageRecord? TryBackgroundCompletion(HttpContext context, RelayRequestState state, RequestMeter meter)
    {
        try
        {
            return UsageSettlement.BackgroundCompletion(context, state, meter, time.GetUtcNow());
        }
#pragma warning disable CA1031 // A read that cannot settle a background generation leaves it waiting for the next read.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogSettlementFailed(logger, e.GetType().Name);
            return null;
        }
    }

    private static async Task ReleaseHeldBytesAsync(HttpContext context, CountingWriteStream body)
    {
        try
        {
            await body.CompleteMeterAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client left in the last moment; the ledger still settles from what was metered.
        }
    }

    [LoggerMessage(EventId = 2, EventName = "SettlementFailed", Level = LogLevel.Error,
        Message = "Reading a request's usage failed ({ExceptionType}); its ledger row is settled with the admission estimate")]
    private static partial void LogSettlementFailed(ILogger logger, string exceptionType);

    [LoggerMessage(EventId = 1, EventName = "RequestRelayed", Level = LogLevel.Information,
        Message = "{Method} {Path} {StatusCode} in {DurationMs:F1} ms (first byte {FirstByteMs:F1} ms), {BytesIn} B in, {BytesOut} B out, client {Client} from {ClientAddress} on connection {ConnectionId}, upstream request {UpstreamRequestId}, {Outcome}, tokens {InputTokens} in {OutputTokens} out ({TokenCount})")]
    private static partial void LogRequest(
        ILogger logger, string method, string? path, int statusCode, double durationMs, double? firstByteMs,
        long bytesIn, long bytesOut, string client, string clientAddress, string connectionId, string upstreamRequestId, RequestOutcome outcome,
        long inputTokens, long outputTokens, string tokenCount);
}

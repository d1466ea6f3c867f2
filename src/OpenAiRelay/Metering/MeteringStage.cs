using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using OpenAiRelay.Authentication;
using OpenAiRelay.Ledger;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Metering;

/// <summary>
/// Owns a request's ledger row from open to settle. Before forwarding, with the meter of the
/// <see cref="RequestInspectionStage"/>: writes the in-flight row, asks the upstream for an uncompressed body when the relay will read it, and wraps the response body
/// (and a WebSocket) in a meter. When the rest of the pipeline returns, however it returns: releases what the meter
/// held, settles the row exactly once, and offers the settled row as <see cref="IUsageSettlementFeature"/>.
/// </summary>
internal sealed partial class MeteringStage(RequestDelegate next, IUsageLedger ledger, TimeProvider time, ILogger<MeteringStage> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Features.GetRequiredFeature<IRelayRequestFeature>();
        var client = context.Features.GetRequiredFeature<IClientFeature>().Client;
        // The meter the inspection stage built: the body it read is what the upstream will be sent.
        var meter = (RequestMeter)context.Features.GetRequiredFeature<IRequestBodyFeature>();

        // The in-flight row goes in before the upstream sees anything: a crash from here on is reconciled at the next start.
        var settlement = new UsageSettlement(context, client, meter, request, time.GetUtcNow());
        ledger.Open(settlement.Opening());

        var outcome = context.Features.Get<IRequestOutcomeFeature>();
        MeteredResponseStream? responseBody = null;
        if (meter.ObservesResponse)
        {
            // The relay reads this response's usage as it passes, so it asks for it uncompressed (RFC 9110 12.5.3):
            // one rule for every client encoding (gzip, br, deflate, zstd, *, q-values), streaming or not, and no
            // decoder to keep exact per encoding. The client receives the same JSON or events, only unencoded.
            // Requests the relay does not read (files, lists, downloads) keep the client's Accept-Encoding.
            context.Request.Headers.AcceptEncoding = "identity";
            responseBody = new MeteredResponseStream(context.Response.Body, context.Response, meter);
            context.Response.Body = responseBody;
        }

        if (meter.ExpectsUsage && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            // Metered WebSockets are relayed uncompressed, so the relay can read the usage in response.done frames.
            context.Request.Headers.Remove(HeaderNames.SecWebSocketExtensions);
            // A session its key's budget ends (IRequestBodyFeature.OnSessionResponse) was refused by policy, not cancelled.
            context.Features.Set<IHttpUpgradeFeature>(new MeteredUpgradeFeature(upgrade, new WebSocketUsageMeter(meter), () => outcome?.End(RequestOutcome.Rejected, "budget")));
        }
        var settled = new SettledUsage();
        context.Features.Set<IUsageSettlementFeature>(settled);
        try
        {
            await next(context);
        }
        catch
        {
            // An unhandled exception is the relay's failure, not a completed request: the row is settled as an error
            // (with an estimate when the response had started) and the exception goes on to the host.
            outcome?.End(RequestOutcome.UpstreamError, "exception");
            throw;
        }
        finally
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                outcome?.End(RequestOutcome.ClientCancelled);
            }
            else if (request.Outcome == RequestOutcome.Completed && responseBody is not null)
            {
                await ReleaseHeldBytesAsync(context, responseBody);
            }

            settled.ResponseModel = meter.Walker.Model;
            Settle(settlement, settled);
        }
    }

    private void Settle(UsageSettlement settlement, SettledUsage settled)
    {
        var endedAt = time.GetUtcNow();
        try
        {
            settled.Settled = settlement.Final(endedAt);
        }
#pragma warning disable CA1031 // The row must be settled whatever went wrong reading usage: never left in flight.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogSettlementFailed(logger, e.GetType().Name);
            settled.Settled = settlement.FinalWithoutUsage(endedAt);
        }

        settled.Settled = ledger.Settle(settled.Settled);
        try
        {
            settled.CompletedBackground = settlement.BackgroundCompletion(endedAt);
        }
#pragma warning disable CA1031 // A read that cannot settle a background generation leaves it waiting for the next read.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogSettlementFailed(logger, e.GetType().Name);
        }

        if (settled.CompletedBackground is { } completion)
        {
            settled.CompletedBackground = ledger.Settle(completion);
        }
    }

    private static async Task ReleaseHeldBytesAsync(HttpContext context, MeteredResponseStream body)
    {
        try
        {
            await body.CompleteAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client left in the last moment; the ledger still settles from what was metered.
        }
    }

    private sealed class SettledUsage : IUsageSettlementFeature
    {
        public UsageRecord? Settled { get; set; }

        public UsageRecord? CompletedBackground { get; set; }

        public string? ResponseModel { get; set; }
    }

    [LoggerMessage(EventId = 2, EventName = "SettlementFailed", Level = LogLevel.Error,
        Message = "Reading a request's usage failed ({ExceptionType}); its ledger row is settled with the admission estimate")]
    private static partial void LogSettlementFailed(ILogger logger, string exceptionType);
}

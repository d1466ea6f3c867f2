using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using OpenAiRelay.Authentication;
using OpenAiRelay.Metering;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The outermost stage of every <c>/v1</c> request: gives it its id (the <c>x-relay-request-id</c> header and the
/// ledger row's key), counts its bytes each way, holds its one outcome (<see cref="RelayRequest"/>), and when the
/// pipeline returns hands the finished <see cref="RelayRequestRecord"/> to every <see cref="IRelayRequestObserver"/>.
/// It decides nothing about the request itself; the stages inside it do, and it only records what they settled.
/// </summary>
internal sealed class RequestRecordMiddleware(RequestDelegate next, IEnumerable<IRelayRequestObserver> observers, RequestsInFlight inFlight)
{
    private readonly IRelayRequestObserver[] _observers = observers.ToArray();

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        // Unique across restarts and instances (it keys the ledger row), and time-ordered.
        var requestId = Guid.CreateVersion7().ToString("N");
        context.TraceIdentifier = requestId;
        context.Response.Headers[RelayHeaders.RequestId] = requestId;

        CountingReadStream? requestBody = null;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            requestBody = new CountingReadStream(context.Request.Body);
            context.Request.Body = requestBody;
        }

        var responseBody = new CountingWriteStream(context.Response.Body);
        context.Response.Body = responseBody;
        var request = new RelayRequest(requestId, started, requestBody, responseBody);
        context.Features.Set<IRelayRequestFeature>(request);
        context.Features.Set<IRequestOutcomeFeature>(request);
        // Null unless a tracer listens: then the request's span, current for every stage and the request log line.
        using var span = RequestSpan.Start(context, requestId);
        inFlight.Add(requestId, context, started);
        try
        {
            await next(context);
        }
        catch
        {
            // Stages inside have settled the row already; the record must say the relay failed, not that it completed.
            request.End(RequestOutcome.UpstreamError, "exception");
            throw;
        }
        finally
        {
            inFlight.Remove(requestId);
            if (context.RequestAborted.IsCancellationRequested)
            {
                request.End(RequestOutcome.ClientCancelled);
            }

            var record = Publish(context, request);
            if (span is not null && record is not null)
            {
                RequestSpan.Complete(span, record);
            }
        }
    }

    private RelayRequestRecord? Publish(HttpContext context, RelayRequest request)
    {
        if (_observers.Length == 0)
        {
            return null;
        }

        var firstByte = request.FirstByteTimestamp;
        var settlement = context.Features.Get<IUsageSettlementFeature>();
        var upstream = context.Features.Get<IUpstreamResponseFeature>();
        var record = new RelayRequestRecord
        {
            RequestId = request.RequestId,
            Method = context.Request.Method,
            Path = context.Request.Path.Value,
            StatusCode = context.Response.StatusCode,
            DurationMs = Stopwatch.GetElapsedTime(request.StartTimestamp).TotalMilliseconds,
            FirstByteMs = firstByte == 0 ? null : Stopwatch.GetElapsedTime(request.StartTimestamp, firstByte).TotalMilliseconds,
            BytesIn = request.BytesIn,
            BytesOut = request.BytesOut,
            ClientLabel = context.Features.Get<IClientFeature>()?.Client.Label,
            ClientAddress = context.Connection.RemoteIpAddress?.ToString(),
            ConnectionId = context.Connection.Id,
            UpstreamRequestId = upstream?.RequestId,
            Outcome = request.Outcome,
            OutcomeReason = request.OutcomeReason,
            Stream = upstream?.Stream ?? ResponseStreamKind.None,
            RequestedModel = context.Features.Get<IRequestBodyFeature>()?.Model,
            ResponseModel = settlement?.ResponseModel,
            Usage = settlement?.Settled,
            CompletedBackground = settlement?.CompletedBackground,
        };
        foreach (var observer in _observers)
        {
            observer.OnRequestFinished(record);
        }

        return record;
    }
}

using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// Writes exactly one structured line per relayed request: method, path (never the query), status, duration,
/// bytes each way, the upstream <c>x-request-id</c>, the client's label and address, the connection it came on, how
/// the request ended and the tokens its ledger row settled. No header value is logged, so no token or key can reach
/// the log.
/// </summary>
internal sealed partial class RequestLog(ILogger<RequestLog> logger) : IRelayRequestObserver
{
    public void OnRequestFinished(RelayRequestRecord record)
        => LogRequest(
            logger,
            record.Method,
            record.Path,
            record.StatusCode,
            record.DurationMs,
            record.FirstByteMs,
            record.BytesIn,
            record.BytesOut,
            record.ClientLabel ?? "-",
            record.ClientAddress ?? "-",
            record.ConnectionId,
            record.UpstreamRequestId ?? "-",
            record.Outcome,
            record.Usage?.InputTokens ?? 0,
            record.Usage?.OutputTokens ?? 0,
            record.Usage?.Estimated == true ? "estimated" : "exact");

    [LoggerMessage(EventId = 1, EventName = "RequestRelayed", Level = LogLevel.Information,
        Message = "{Method} {Path} {StatusCode} in {DurationMs:F1} ms (first byte {FirstByteMs:F1} ms), {BytesIn} B in, {BytesOut} B out, client {Client} from {ClientAddress} on connection {ConnectionId}, upstream request {UpstreamRequestId}, {Outcome}, tokens {InputTokens} in {OutputTokens} out ({TokenCount})")]
    private static partial void LogRequest(
        ILogger logger, string method, string? path, int statusCode, double durationMs, double? firstByteMs,
        long bytesIn, long bytesOut, string client, string clientAddress, string connectionId, string upstreamRequestId, RequestOutcome outcome,
        long inputTokens, long outputTokens, string tokenCount);
}

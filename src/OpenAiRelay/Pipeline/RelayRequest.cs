using OpenAiRelay.Streams;

namespace OpenAiRelay.Pipeline;

/// <summary>
/// The outermost stage's per-request object: it owns the byte counters around the client's bodies and holds the one
/// outcome. Later stages see it only as <see cref="IRelayRequestFeature"/> and <see cref="IRequestOutcomeFeature"/>.
/// </summary>
internal sealed class RelayRequest : IRelayRequestFeature, IRequestOutcomeFeature
{
    private readonly CountingReadStream? _requestBody;
    private readonly CountingWriteStream _responseBody;

    public RelayRequest(string requestId, long startTimestamp, CountingReadStream? requestBody, CountingWriteStream responseBody)
    {
        RequestId = requestId;
        StartTimestamp = startTimestamp;
        _requestBody = requestBody;
        _responseBody = responseBody;
    }

    public string RequestId { get; }

    public long StartTimestamp { get; }

    public long BytesIn => _requestBody?.BytesRead ?? 0;

    public long BytesOut => _responseBody.BytesWritten;

    public long FirstByteTimestamp => _responseBody.FirstByteTimestamp;

    public RequestOutcome Outcome { get; private set; }

    /// <summary>The reason the stage that ended the request gave with its outcome (<see cref="IRequestOutcomeFeature.End"/>).</summary>
    public string? OutcomeReason { get; private set; }

    public void End(RequestOutcome outcome, string? reason = null)
    {
        if (Outcome == RequestOutcome.Completed)
        {
            Outcome = outcome;
            OutcomeReason = reason;
        }
    }
}

using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// One finished <c>/v1</c> request, as every observer (the request log; metrics next) receives it. It holds nothing
/// secret: no header value, no query, no body; the client by its label only.
/// </summary>
internal sealed record RelayRequestRecord
{
    public required string RequestId { get; init; }

    public required string Method { get; init; }

    /// <summary>The path without the query.</summary>
    public required string? Path { get; init; }

    public required int StatusCode { get; init; }

    public required double DurationMs { get; init; }

    public required double? FirstByteMs { get; init; }

    public required long BytesIn { get; init; }

    public required long BytesOut { get; init; }

    /// <summary><c>rk_live_&lt;keyid&gt;</c>, <c>relay-token</c>, <c>anonymous</c>; null when no client was identified.</summary>
    public required string? ClientLabel { get; init; }

    /// <summary>After ForwardedHeaders: the X-Forwarded-For address when the peer is a trusted proxy (nginx).</summary>
    public required string? ClientAddress { get; init; }

    /// <summary>Kestrel's connection id: requests sharing it came over one kept-alive connection.</summary>
    public required string ConnectionId { get; init; }

    public required string? UpstreamRequestId { get; init; }

    public required RequestOutcome Outcome { get; init; }

    /// <summary>Why it ended so, from a closed vocabulary (<see cref="IRequestOutcomeFeature.End"/>); null when completed.</summary>
    public required string? OutcomeReason { get; init; }

    /// <summary>Whether the answer was an event stream or a WebSocket session.</summary>
    public required ResponseStreamKind Stream { get; init; }

    /// <summary>The <c>model</c> the request asked for, as the client wrote it; null when it named none or was not read.</summary>
    public required string? RequestedModel { get; init; }

    /// <summary>The <c>model</c> the upstream's answer named; null when it named none or was not read.</summary>
    public required string? ResponseModel { get; init; }

    /// <summary>The ledger row the metering stage settled; null when the request was not metered.</summary>
    public required UsageRecord? Usage { get; init; }

    /// <summary>The background generation this read settled, if any.</summary>
    public required UsageRecord? CompletedBackground { get; init; }
}

using OpenAiRelay.Authentication;
using OpenAiRelay.Metering;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Telemetry;

/// <summary>How a relayed request ended, as it appears in the request log (and later the usage ledger).</summary>
internal enum RequestOutcome
{
    Completed,
    Rejected,
    ClientCancelled,
    UpstreamError,
    UpstreamTimeout,
}

/// <summary>Per-request facts gathered along the pipeline for the one log line written at the end.</summary>
internal sealed class RelayRequestState
{
    public ClientIdentity? Client { get; set; }

    public string? UpstreamRequestId { get; set; }

    public RequestOutcome Outcome { get; set; } = RequestOutcome.Completed;

    /// <summary>Set when the request is admitted and forwarded; null for requests the relay answered itself.</summary>
    public RequestMeter? Meter { get; set; }

    /// <summary>An in-flight ledger row exists and must be settled exactly once.</summary>
    public bool LedgerOpen { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public CountingReadStream? RequestBody { get; set; }

    public CountingWriteStream? ResponseBody { get; set; }
}

namespace OpenAiRelay.Pipeline;

/// <summary>
/// What the outermost stage knows of a <c>/v1</c> request, read by every later stage: its id (which keys the ledger
/// row), when it started, the bytes each way so far, and how it ended. Read-only: no stage writes a fact back here;
/// a stage that ends the request says so once through <see cref="IRequestOutcomeFeature"/>.
/// </summary>
internal interface IRelayRequestFeature
{
    /// <summary>Unique across restarts and instances, time-ordered; also <c>HttpContext.TraceIdentifier</c>.</summary>
    string RequestId { get; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp at which the relay first saw the request.</summary>
    long StartTimestamp { get; }

    /// <summary>Request body bytes read from the client so far.</summary>
    long BytesIn { get; }

    /// <summary>Response body bytes written to the client so far.</summary>
    long BytesOut { get; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the first response body byte, or 0.</summary>
    long FirstByteTimestamp { get; }

    RequestOutcome Outcome { get; }
}

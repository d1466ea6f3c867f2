namespace FakeOpenAi;

/// <summary>
/// A scripted misbehaviour for the next request whose path starts with <see cref="PathPrefix"/>.
/// Every property mirrors an <c>x-fake-*</c> request header; a header on the request wins over the queued fault.
/// </summary>
public sealed record FakeFault
{
    /// <summary>Only requests whose path starts with this (e.g. <c>/v1/chat</c>) take the fault; null takes any request.</summary>
    public string? PathPrefix { get; init; }

    /// <summary>HTTP status to answer with instead of the endpoint (<c>x-fake-status</c>); 4xx/5xx get the OpenAI error body.</summary>
    public int? Status { get; init; }

    /// <summary>Error flavour (<c>x-fake-error-code</c>), e.g. <c>rate_limit_exceeded</c>, <c>insufficient_quota</c>, <c>model_not_found</c>.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Extra response headers, added verbatim.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Adds <c>retry-after: N</c> (integer seconds) to an error response (<c>x-fake-retry-after</c>).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Adds <c>retry-after-ms: N</c>, which the Python and Node SDKs honour first (<c>x-fake-retry-after-ms</c>).</summary>
    public double? RetryAfterMilliseconds { get; init; }

    /// <summary>Adds <c>x-should-retry: true|false</c> (<c>x-fake-should-retry</c>).</summary>
    public bool? ShouldRetry { get; init; }

    /// <summary>Wait this long before sending response headers (<c>x-fake-delay-ms</c>).</summary>
    public TimeSpan? DelayBeforeHeaders { get; init; }

    /// <summary>Gap between streamed events (<c>x-fake-event-interval-ms</c>); also paces binary chunks when set.</summary>
    public TimeSpan? EventInterval { get; init; }

    /// <summary>Number of content deltas in a stream (<c>x-fake-events</c>).</summary>
    public int? EventCount { get; init; }

    /// <summary>
    /// Send headers and this many events (SSE events, WebSocket frames or 64 KiB binary chunks), then hang until the
    /// client goes away (<c>x-fake-stall-after</c>). A JSON endpoint hangs before its headers.
    /// </summary>
    public int? StallAfterEvents { get; init; }

    /// <summary>
    /// Send this many events, then abort the connection (<c>x-fake-reset-after</c>). A JSON endpoint aborts before
    /// its headers.
    /// </summary>
    public int? ResetAfterEvents { get; init; }

    /// <summary>End a stream with an in-band error (<c>x-fake-mid-stream-error: true</c>).</summary>
    public bool? MidStreamError { get; init; }

    /// <summary>Answer 200 with a JSON body cut in half and no Content-Length (<c>x-fake-truncate: true</c>).</summary>
    public bool? TruncateJson { get; init; }

    /// <summary>Size in bytes of a binary response (<c>x-fake-size</c>).</summary>
    public long? ResponseSize { get; init; }

    /// <summary>Answer with a redirect to this location (<c>x-fake-redirect</c>); the status is 302 unless <see cref="Status"/> says otherwise.</summary>
    public string? RedirectLocation { get; init; }
}

using System.Globalization;

namespace FakeOpenAi.Faults;

/// <summary>
/// The misbehaviour chosen for one request: a queued <see cref="FakeFault"/> overlaid with the request's
/// <c>x-fake-*</c> headers (headers win, because tests that go through the relay can only speak in headers).
/// </summary>
internal sealed record FaultPlan
{
    public static readonly FaultPlan None = new();

    public int? Status { get; init; }

    public string? ErrorCode { get; init; }

    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    public int? RetryAfterSeconds { get; init; }

    public double? RetryAfterMilliseconds { get; init; }

    public bool? ShouldRetry { get; init; }

    public TimeSpan? DelayBeforeHeaders { get; init; }

    public TimeSpan? EventInterval { get; init; }

    public int? EventCount { get; init; }

    public int? StallAfterEvents { get; init; }

    public int? ResetAfterEvents { get; init; }

    public bool MidStreamError { get; init; }

    /// <summary>Answer 200 with only the first half of a JSON body (<c>x-fake-truncate: true</c>).</summary>
    public bool TruncateJson { get; init; }

    public long? ResponseSize { get; init; }

    public string? RedirectLocation { get; init; }

    public static FaultPlan Create(FakeFault? fault, IHeaderDictionary headers)
    {
        if (fault is null && !HasFakeHeader(headers))
        {
            return None;
        }

        return new FaultPlan
        {
            Status = Int(headers, "x-fake-status") ?? fault?.Status,
            ErrorCode = Text(headers, "x-fake-error-code") ?? fault?.ErrorCode,
            Headers = fault?.Headers,
            RetryAfterSeconds = Int(headers, "x-fake-retry-after") ?? fault?.RetryAfterSeconds,
            RetryAfterMilliseconds = Double(headers, "x-fake-retry-after-ms") ?? fault?.RetryAfterMilliseconds,
            ShouldRetry = Bool(headers, "x-fake-should-retry") ?? fault?.ShouldRetry,
            DelayBeforeHeaders = Millis(headers, "x-fake-delay-ms") ?? fault?.DelayBeforeHeaders,
            EventInterval = Millis(headers, "x-fake-event-interval-ms") ?? fault?.EventInterval,
            EventCount = Int(headers, "x-fake-events") ?? fault?.EventCount,
            StallAfterEvents = Int(headers, "x-fake-stall-after") ?? fault?.StallAfterEvents,
            ResetAfterEvents = Int(headers, "x-fake-reset-after") ?? fault?.ResetAfterEvents,
            MidStreamError = Bool(headers, "x-fake-mid-stream-error") ?? fault?.MidStreamError ?? false,
            TruncateJson = Bool(headers, "x-fake-truncate") ?? fault?.TruncateJson ?? false,
            ResponseSize = Long(headers, "x-fake-size") ?? fault?.ResponseSize,
            RedirectLocation = Text(headers, "x-fake-redirect") ?? fault?.RedirectLocation,
        };
    }

    private static bool HasFakeHeader(IHeaderDictionary headers)
    {
        foreach (var name in headers.Keys)
        {
            if (name.StartsWith("x-fake-", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string? Text(IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.ToString().Trim() : null;

    private static int? Int(IHeaderDictionary headers, string name) =>
        int.TryParse(Text(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static long? Long(IHeaderDictionary headers, string name) =>
        long.TryParse(Text(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static double? Double(IHeaderDictionary headers, string name) =>
        double.TryParse(Text(headers, name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static bool? Bool(IHeaderDictionary headers, string name) =>
        bool.TryParse(Text(headers, name), out var value) ? value : null;

    private static TimeSpan? Millis(IHeaderDictionary headers, string name) =>
        Double(headers, name) is { } ms ? TimeSpan.FromMilliseconds(ms) : null;
}

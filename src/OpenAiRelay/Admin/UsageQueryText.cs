using System.Globalization;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// Parses <c>since</c>, <c>until</c> and <c>by</c> for the CLI and the admin API. Times are UTC. A bare date as
/// <c>until</c> includes that whole day (<c>--since 2026-11-01 --until 2026-11-30</c> is all of November).
/// </summary>
internal static class UsageQueryText
{
    /// <summary>A <c>--since</c> / <c>since</c> on its own (the audit log): absent is null, a bad value an error.</summary>
    public static bool TryParseSince(string? since, out DateTimeOffset? from, out string? error)
    {
        from = null;
        error = null;
        if (string.IsNullOrWhiteSpace(since))
        {
            return true;
        }

        if (!TryParseTime(since, endOfDay: false, out var value))
        {
            error = "since must be a UTC date (2026-11-01) or an ISO 8601 time";
            return false;
        }

        from = value;
        return true;
    }

    public static bool TryParse(string? since, string? until, string? by, out UsageQuery query, out string? error)
    {
        query = new UsageQuery(null, null, UsageGrouping.Total);
        error = null;
        DateTimeOffset? from = null, to = null;
        if (!string.IsNullOrWhiteSpace(since))
        {
            if (!TryParseTime(since, endOfDay: false, out var value))
            {
                error = "since must be a UTC date (2026-11-01) or an ISO 8601 time";
                return false;
            }

            from = value;
        }

        if (!string.IsNullOrWhiteSpace(until))
        {
            if (!TryParseTime(until, endOfDay: true, out var value))
            {
                error = "until must be a UTC date (2026-11-30) or an ISO 8601 time";
                return false;
            }

            to = value;
        }

        UsageGrouping grouping;
        switch (by?.Trim().ToLowerInvariant())
        {
            case null or "" or "total": grouping = UsageGrouping.Total; break;
            case "key": grouping = UsageGrouping.Key; break;
            case "model": grouping = UsageGrouping.Model; break;
            case "day": grouping = UsageGrouping.Day; break;
            default:
                error = "by must be one of key, model, day";
                return false;
        }

        query = new UsageQuery(from, to, grouping);
        return true;
    }

    private static bool TryParseTime(string text, bool endOfDay, out DateTimeOffset value)
    {
        text = text.Trim();
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            value = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            if (endOfDay)
            {
                value = value.AddDays(1);
            }

            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
    }
}

using System.Globalization;

namespace OpenAiRelay.Admin;

/// <summary>Parses <c>--expires-in</c> / <c>expires_in</c>: <c>90m</c>, <c>12h</c>, <c>30d</c>, <c>4w</c>, or a TimeSpan (<c>1.00:00:00</c>).</summary>
internal static class DurationText
{
    /// <summary>The longest expiry: a hundred years. Longer ones (or ones past DateTimeOffset's range) are refused, not a 500.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(36_525);

    public static bool TryParse(string? text, out TimeSpan duration)
        => TryParseAny(text, out duration) && duration <= Max;

    private static bool TryParseAny(string? text, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var unit = text[^1];
        if (char.IsAsciiLetter(unit) && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is > 0 and <= 100_000)
        {
            duration = char.ToLowerInvariant(unit) switch
            {
                'm' => TimeSpan.FromMinutes(count),
                'h' => TimeSpan.FromHours(count),
                'd' => TimeSpan.FromDays(count),
                'w' => TimeSpan.FromDays(count * 7),
                _ => default,
            };
            return duration > TimeSpan.Zero;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
    }
}

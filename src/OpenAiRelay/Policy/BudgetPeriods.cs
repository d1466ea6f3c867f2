namespace OpenAiRelay.Policy;

/// <summary>Period arithmetic and the wire names of <see cref="BudgetPeriod"/> and <see cref="BudgetMode"/>.</summary>
internal static class BudgetPeriods
{
    /// <summary>The first instant of the period containing <paramref name="now"/>; the Unix epoch for <see cref="BudgetPeriod.Total"/>.</summary>
    public static DateTimeOffset Start(this BudgetPeriod period, DateTimeOffset now)
    {
        var day = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        return period switch
        {
            BudgetPeriod.Day => day,
            BudgetPeriod.Week => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)),
            BudgetPeriod.Month => new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => DateTimeOffset.UnixEpoch,
        };
    }

    /// <summary>The first instant after the period containing <paramref name="now"/>, or null for <see cref="BudgetPeriod.Total"/>.</summary>
    public static DateTimeOffset? End(this BudgetPeriod period, DateTimeOffset now) => period switch
    {
        BudgetPeriod.Day => period.Start(now).AddDays(1),
        BudgetPeriod.Week => period.Start(now).AddDays(7),
        BudgetPeriod.Month => period.Start(now).AddMonths(1),
        _ => null,
    };

    public static string Name(this BudgetPeriod period) => period switch
    {
        BudgetPeriod.Day => "day",
        BudgetPeriod.Week => "week",
        BudgetPeriod.Month => "month",
        _ => "total",
    };

    /// <exception cref="FormatException">Not one of day, week, month, total.</exception>
    public static BudgetPeriod Parse(string? text) => text?.ToLowerInvariant() switch
    {
        "day" => BudgetPeriod.Day,
        "week" => BudgetPeriod.Week,
        "month" => BudgetPeriod.Month,
        "total" => BudgetPeriod.Total,
        _ => throw new FormatException($"budget_period must be day, week, month or total, not '{text}'"),
    };

    public static string Name(this BudgetMode mode) => mode == BudgetMode.Strict ? "strict" : "reserve";

    /// <exception cref="FormatException">Not reserve or strict.</exception>
    public static BudgetMode ParseMode(string? text) => text?.ToLowerInvariant() switch
    {
        "reserve" => BudgetMode.Reserve,
        "strict" => BudgetMode.Strict,
        _ => throw new FormatException($"budget_mode must be reserve or strict, not '{text}'"),
    };
}

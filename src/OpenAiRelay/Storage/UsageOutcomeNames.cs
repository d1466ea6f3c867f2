namespace OpenAiRelay.Storage;

/// <summary>The stable snake_case names stored in <c>usage_records.outcome</c> (never the enum's number).</summary>
internal static class UsageOutcomeNames
{
    public const string InFlight = "in_flight";
    public const string Interrupted = "interrupted";
    public const string Background = "background";

    public static string ToName(this UsageOutcome outcome) => outcome switch
    {
        UsageOutcome.InFlight => InFlight,
        UsageOutcome.Completed => "completed",
        UsageOutcome.ClientCancelled => "client_cancelled",
        UsageOutcome.UpstreamError => "upstream_error",
        UsageOutcome.Timeout => "timeout",
        UsageOutcome.Rejected => "rejected",
        UsageOutcome.Interrupted => Interrupted,
        UsageOutcome.Background => Background,
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };

    public static UsageOutcome Parse(string name) => name switch
    {
        InFlight => UsageOutcome.InFlight,
        "completed" => UsageOutcome.Completed,
        "client_cancelled" => UsageOutcome.ClientCancelled,
        "upstream_error" => UsageOutcome.UpstreamError,
        "timeout" => UsageOutcome.Timeout,
        "rejected" => UsageOutcome.Rejected,
        Interrupted => UsageOutcome.Interrupted,
        Background => UsageOutcome.Background,
        _ => throw new FormatException($"Unknown usage outcome '{name}'"),
    };
}

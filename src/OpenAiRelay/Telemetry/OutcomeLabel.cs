using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Telemetry;

/// <summary>A <see cref="RequestOutcome"/> as a metric and span label.</summary>
internal static class OutcomeLabel
{
    public static string Of(RequestOutcome outcome) => outcome switch
    {
        RequestOutcome.Completed => "completed",
        RequestOutcome.Rejected => "rejected",
        RequestOutcome.ClientCancelled => "client_cancelled",
        RequestOutcome.UpstreamError => "upstream_error",
        RequestOutcome.UpstreamTimeout => "upstream_timeout",
        _ => "other",
    };
}

using System.Globalization;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The OpenTelemetry <c>error.type</c> of a finished request, from a closed, documented vocabulary
/// (docs/observability.md): the refusal's reason, the upstream failure's kind, <c>client_cancelled</c>, or the
/// upstream's own error status (<c>429</c>, <c>500</c>). Null when the request succeeded.
/// </summary>
internal static class ErrorType
{
    private static readonly string[] s_statuses = Enumerable.Range(0, 200).Select(i => (400 + i).ToString(CultureInfo.InvariantCulture)).ToArray();

    public static string? Of(RelayRequestRecord record) => record.Outcome switch
    {
        RequestOutcome.Completed when record.StatusCode < 400 => null,
        RequestOutcome.Completed => record.StatusCode < 600 ? s_statuses[record.StatusCode - 400] : "_OTHER",
        RequestOutcome.Rejected => record.OutcomeReason ?? "rejected",
        RequestOutcome.ClientCancelled => "client_cancelled",
        RequestOutcome.UpstreamTimeout => record.OutcomeReason ?? "upstream_timeout",
        _ => record.OutcomeReason ?? "upstream_error",
    };
}

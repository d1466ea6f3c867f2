using OpenAiRelay.Metering;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Tests.Storage;

internal static class UsageRecords
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    public static UsageRecord InFlight(string requestId, string model = "gpt-4o-mini", DateTimeOffset? startedAt = null, string keyId = "AbCdEfGh12", long estimate = 100) => new()
    {
        RequestId = requestId,
        KeyId = keyId,
        KeyLabel = "rk_live_" + keyId,
        Model = model,
        Endpoint = "/chat/completions",
        Method = "POST",
        Status = 0,
        Outcome = UsageOutcome.InFlight,
        StartedAt = startedAt ?? T0,
        EstimatedInputTokens = estimate,
    };

    public static UsageRecord Completed(UsageRecord open, long input, long output, long? cost, long cached = 0) => open with
    {
        Status = 200,
        InputTokens = input,
        CachedTokens = cached,
        OutputTokens = output,
        CostMicros = cost,
        Outcome = UsageOutcome.Completed,
        EndedAt = open.StartedAt.AddSeconds(2),
        LatencyMs = 2000,
        TtfbMs = 150,
        BytesIn = 512,
        BytesOut = 2048,
        UpstreamRequestId = "req_upstream_1",
    };
}

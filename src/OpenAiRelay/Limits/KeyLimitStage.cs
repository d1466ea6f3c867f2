using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Metering;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Policy;
using OpenAiRelay.Pricing;

namespace OpenAiRelay.Limits;

/// <summary>
/// Holds a limited client to its <c>max_concurrent</c>, <c>rpm</c>, <c>tpm</c> and budget: works out what the request
/// may consume at most (<see cref="ReservationPlanner"/>), admits it in one atomic step over every limit
/// (<see cref="IKeyLimiter"/>: in process, or shared through Redis) or refuses it (429 <c>rate_limit_exceeded</c> with <c>Retry-After</c>, 429
/// <c>insufficient_quota</c> with <c>x-should-retry: false</c>), and when the rest of the pipeline returns, however it
/// returns, settles the reservations to the usage and cost of the request's ledger row and frees its slot (a stream or a
/// WebSocket session holds it to its end). Responses of a key with a request or token limit carry OpenAI's
/// <c>x-ratelimit-*</c> headers for the key's own limits, in place of the upstream's, which describe the
/// organisation's capacity, not this client's.
/// </summary>
internal sealed class KeyLimitStage(RequestDelegate next, IKeyLimiter limiter, PriceTable prices, IOptions<LimitOptions> options, TimeProvider time)
{
    private readonly ReservationPlanner _planner = new(prices, options.Value);

    public async Task InvokeAsync(HttpContext context)
    {
        var client = context.Features.GetRequiredFeature<IClientFeature>().Client;
        var policy = client.EffectivePolicy;
        if (!policy.HasLimits)
        {
            await next(context);
            return;
        }

        var body = context.Features.Get<IRequestBodyFeature>();
        if (body is null && policy.ReadsBody)
        {
            await RelayErrorWriter.RefuseAsync(context, RelayError.LimitsNeedMetering);
            return;
        }

        var plan = _planner.Plan(context, client.Label, policy, body);
        if (plan.Refusal is { } refusal)
        {
            await RelayErrorWriter.RefuseAsync(context, refusal);
            return;
        }

        // A budget's reservation is named by the ledger row that will settle it.
        var demand = plan.Demand.ChargesBudget ? plan.Demand with { RequestId = context.Features.Get<IRelayRequestFeature>()?.RequestId } : plan.Demand;
        var admitted = await limiter.AdmitAsync(client.LedgerKeyId, policy, demand, context.RequestAborted);
        if (admitted.Result == KeyLimiter.AdmissionResult.SpendUnknown)
        {
            // The key's spend could not be read (the ledger's database is down).
            await RelayErrorWriter.RefuseAsync(context, RelayError.LimitsUnavailable, TimeSpan.FromSeconds(1));
            return;
        }

        if (policy.Rpm is not null || policy.Tpm is not null)
        {
            // At the response's start, so the refusal's own headers (written after the response is cleared) keep them.
            context.Response.OnStarting(
                static state =>
                {
                    var (response, policy, remaining) = ((HttpResponse, KeyPolicy, KeyLimiter.Remaining))state;
                    SetRateLimitHeaders(response, policy, remaining);
                    return Task.CompletedTask;
                },
                (context.Response, policy, admitted.Remaining));
        }

        if (admitted.Result != KeyLimiter.AdmissionResult.Admitted)
        {
            var error = admitted.Result switch
            {
                KeyLimiter.AdmissionResult.ConcurrencyLimited => RelayError.ConcurrencyLimited(client.Label, policy.MaxConcurrent!.Value),
                KeyLimiter.AdmissionResult.RequestsLimited => RelayError.RequestRateLimited(client.Label, policy.Rpm!.Value),
                KeyLimiter.AdmissionResult.TokensLimited => RelayError.TokensRateLimited(client.Label, policy.Tpm!.Value, plan.Demand.Tokens),
                KeyLimiter.AdmissionResult.TokensTooMany => RelayError.TokensTooMany(client.Label, policy.Tpm!.Value, plan.Demand.Tokens),
                KeyLimiter.AdmissionResult.BudgetExhausted => RelayError.BudgetExhausted(client.Label, policy.BudgetPeriod.Name(), policy.BudgetPeriod.End(time.GetUtcNow())),
                _ => RelayError.LimitsUnavailable,
            };
            await RelayErrorWriter.RefuseAsync(context, error, error.ShouldRetry == false ? null : admitted.RetryAfter);
            return;
        }

        var lease = admitted.Lease!;
        if (body is not null && context.WebSockets.IsWebSocketRequest && (policy.Tpm is not null || policy.BudgetMicros is not null))
        {
            // A session settles per response, not only at its end: each response.done is charged as it passes, and
            // one that spends the budget ends the session there.
            var budget = policy.BudgetMicros ?? long.MaxValue;
            body.OnSessionResponse = (usage, model) =>
                lease.Charge(usage.Input + usage.Output, prices.CostMicros(model, usage.Input, usage.Cached, usage.Output, usage.AudioMilliseconds) ?? lease.ReservedMicros, budget);
        }

        try
        {
            await next(context);
        }
        finally
        {
            // The row as the ledger recorded it, priced: the same numbers a restart would load. A request settled
            // without a row (refused further on, or metering off) keeps its reservations as spent.
            // Not the request's token: a client that left still frees its slot and pays for what it used. A shared
            // store bounds its own wait; the in-process lease settles synchronously, so no timer per request.
            var row = context.Features.Get<IUsageSettlementFeature>()?.Settled;
            await lease.SettleAsync(row is null ? null : UsageCharge.TokensOf(row), row is null ? null : UsageCharge.CostOf(row), CancellationToken.None);
        }
    }

    private static void SetRateLimitHeaders(HttpResponse response, KeyPolicy policy, KeyLimiter.Remaining remaining)
    {
        var headers = response.Headers;
        foreach (var name in headers.Keys.Where(name => name.StartsWith("x-ratelimit-", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(name);
        }

        if (policy.Rpm is { } rpm)
        {
            var left = Math.Max(0, remaining.Requests);
            headers["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = ((long)Math.Floor(left)).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = ResetText(TimeSpan.FromMinutes((rpm - left) / rpm));
        }

        if (policy.Tpm is { } tpm)
        {
            // A bucket below zero (responses that used more than they reserved) reports 0 and the time to refill from there.
            var level = double.IsNaN(remaining.Tokens) ? tpm : remaining.Tokens;
            headers["x-ratelimit-limit-tokens"] = tpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = ((long)Math.Floor(Math.Max(0, level))).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = ResetText(TimeSpan.FromMinutes((tpm - level) / tpm));
        }
    }

    /// <summary>OpenAI's reset format: <c>120ms</c>, <c>1.5s</c>, <c>6m0s</c>: the time until the bucket is full again.</summary>
    internal static string ResetText(TimeSpan wait)
    {
        if (wait < TimeSpan.FromSeconds(1))
        {
            return ((int)Math.Ceiling(wait.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        }

        if (wait < TimeSpan.FromMinutes(1))
        {
            return Math.Round(wait.TotalSeconds, 3).ToString(CultureInfo.InvariantCulture) + "s";
        }

        return ((int)wait.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m"
            + Math.Round(wait.TotalSeconds % 60, 3).ToString(CultureInfo.InvariantCulture) + "s";
    }
}

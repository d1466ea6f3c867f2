using Microsoft.AspNetCore.Http.Features;
using System.Globalization;
using OpenAiRelay.Authentication;
using OpenAiRelay.Errors;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Limits;

/// <summary>
/// Holds a limited client to its <c>rpm</c> and <c>max_concurrent</c>: one atomic admission over both
/// (<see cref="KeyLimiter"/>), 429 <c>rate_limit_exceeded</c> with <c>Retry-After</c> when refused, and the in-flight
/// slot released when the rest of the pipeline returns, however it returns (a stream or a WebSocket session holds it
/// to its end). Responses of a key with a request limit carry OpenAI's <c>x-ratelimit-*-requests</c> headers for the
/// key's own limit, in place of the upstream's, which describe the organisation's capacity, not this client's.
/// </summary>
internal sealed class KeyLimitStage(RequestDelegate next, KeyLimiter limiter)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var client = context.Features.GetRequiredFeature<IClientFeature>().Client;
        var policy = client.EffectivePolicy;
        if (!policy.HasLimits)
        {
            await next(context);
            return;
        }

        var admission = limiter.Admit(client.LedgerKeyId, policy);
        if (policy.Rpm is not null)
        {
            // At the response's start, so the refusal's own headers (written after the response is cleared) keep them.
            context.Response.OnStarting(
                static state =>
                {
                    var (response, policy, remaining) = ((HttpResponse, KeyPolicy, double))state;
                    SetRateLimitHeaders(response, policy, remaining);
                    return Task.CompletedTask;
                },
                (context.Response, policy, admission.RemainingRequests));
        }

        if (admission.Result != KeyLimiter.AdmissionResult.Admitted)
        {
            var error = admission.Result == KeyLimiter.AdmissionResult.ConcurrencyLimited
                ? RelayError.ConcurrencyLimited(client.Label, policy.MaxConcurrent!.Value)
                : RelayError.RequestRateLimited(client.Label, policy.Rpm!.Value);
            await RelayErrorWriter.RefuseAsync(context, error, admission.RetryAfter);
            return;
        }

        var slot = admission.Slot!;
        try
        {
            await next(context);
        }
        finally
        {
            slot.Release();
        }
    }

    private static void SetRateLimitHeaders(HttpResponse response, KeyPolicy policy, double remaining)
    {
        if (policy.Rpm is not { } rpm)
        {
            return;
        }

        var headers = response.Headers;
        foreach (var name in headers.Keys.Where(name => name.StartsWith("x-ratelimit-", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(name);
        }

        var left = Math.Max(0, remaining);
        headers["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-remaining-requests"] = ((int)Math.Floor(left)).ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-reset-requests"] = ResetText(TimeSpan.FromMinutes((rpm - left) / rpm));
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

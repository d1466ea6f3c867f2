using Microsoft.AspNetCore.Http.Features;
using System.Globalization;
using FakeOpenAi.Hosting;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Faults;

/// <summary>
/// Resolves the request's <see cref="FaultPlan"/> and applies the parts that happen before any endpoint runs:
/// extra headers, the delay before headers, and a status/redirect answer in place of the endpoint.
/// Streaming faults (stall, reset, pacing, mid-stream errors) are applied by the endpoints through <see cref="StreamPacer"/>.
/// </summary>
internal sealed class FaultMiddleware(RequestDelegate next, FakeState state)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.Features.GetRequiredFeature<FakeRequestFeature>();
        var plan = FaultPlan.Create(state.Faults.TryTake(context.Request.Path.Value ?? string.Empty), context.Request.Headers);
        feature.Plan = plan;
        if (ReferenceEquals(plan, FaultPlan.None))
        {
            await next(context);
            return;
        }

        var headers = context.Response.Headers;
        if (plan.Headers is not null)
        {
            foreach (var (name, value) in plan.Headers)
            {
                headers[name] = value;
            }
        }

        if (plan.RetryAfterSeconds is { } seconds)
        {
            headers["retry-after"] = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (plan.RetryAfterMilliseconds is { } ms)
        {
            headers["retry-after-ms"] = ms.ToString(CultureInfo.InvariantCulture);
        }

        if (plan.ShouldRetry is { } shouldRetry)
        {
            headers["x-should-retry"] = shouldRetry ? "true" : "false";
        }

        if (plan.DelayBeforeHeaders is { } delay && delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, state.Time, context.RequestAborted);
        }

        if (plan.RedirectLocation is { } location)
        {
            context.Response.StatusCode = plan.Status ?? StatusCodes.Status302Found;
            headers.Location = location;
            return;
        }

        if (plan.Status is { } status && status >= 400)
        {
            await OpenAiErrors.WriteFaultAsync(context, status, plan.ErrorCode);
            return;
        }

        await next(context);
    }
}

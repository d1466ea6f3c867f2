using System.Diagnostics;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Hosting;

/// <summary>Adds the headers every real OpenAI response carries (wire doc §4.2), so the relay's pass-through can be checked.</summary>
internal sealed class OpenAiHeadersMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var headers = context.Response.Headers;
        headers["x-request-id"] = "req_" + Ids.Hex(32);
        headers["openai-version"] = "2020-10-01";
        headers["openai-organization"] = "org-fake";
        headers["openai-project"] = "proj_fake";
        headers["access-control-expose-headers"] = "X-Request-ID";
        headers["x-ratelimit-limit-requests"] = "10000";
        headers["x-ratelimit-limit-tokens"] = "30000000";
        headers["x-ratelimit-remaining-requests"] = "9999";
        headers["x-ratelimit-remaining-tokens"] = "29999000";
        headers["x-ratelimit-reset-requests"] = "120ms";
        headers["x-ratelimit-reset-tokens"] = "66ms";

        // Processing time is only known when the headers leave, which for a stream is before the body is done.
        context.Response.OnStarting(
            static state =>
            {
                var (response, started) = ((HttpResponse, long))state;
                var elapsed = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                response.Headers["openai-processing-ms"] = elapsed.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            },
            (context.Response, started));

        return next(context);
    }
}

using System.Text.Json;
using OpenAiRelay.Limits;

namespace OpenAiRelay.Hosting;

/// <summary>
/// <c>/healthz</c> (the process answers), <c>/readyz</c> (it accepts traffic) and <c>/healthz/stream</c> (the
/// <see cref="StreamProbe"/> that <c>openai-relay check --through</c> reads). No auth, no secrets.
/// </summary>
internal static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", static () => Results.Text("{\"status\":\"ok\"}", "application/json"));
        endpoints.MapGet(StreamProbe.Path, StreamProbe.ServeAsync);
        // Degraded limits (shared Redis unreachable) stay ready: requests are still limited, per instance.
        endpoints.MapGet("/readyz", static (RelayLifetime lifetime, IKeyLimiter limiter) => lifetime.IsDraining
            ? Results.Text("{\"status\":\"draining\"}", "application/json", statusCode: StatusCodes.Status503ServiceUnavailable)
            : limiter.Degraded is { } degraded
                ? Results.Text("{\"status\":\"ready\",\"limits\":\"" + JsonEncodedText.Encode(degraded) + "\"}", "application/json")
                : Results.Text("{\"status\":\"ready\"}", "application/json"));
    }
}

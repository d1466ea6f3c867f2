namespace OpenAiRelay.Hosting;

/// <summary><c>/healthz</c> (the process answers) and <c>/readyz</c> (it accepts traffic). No auth, no secrets.</summary>
internal static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", static () => Results.Text("{\"status\":\"ok\"}", "application/json"));
        endpoints.MapGet("/readyz", static (RelayLifetime lifetime) => lifetime.IsDraining
            ? Results.Text("{\"status\":\"draining\"}", "application/json", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("{\"status\":\"ready\"}", "application/json"));
    }
}

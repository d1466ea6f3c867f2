using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text format (OpenMetrics when the scraper asks for it), served by the
/// OpenTelemetry Prometheus exporter: on the metrics listener (<c>RELAY_METRICS_PORT</c>, which serves nothing
/// else), and on the public port only to <c>Authorization: Bearer &lt;RELAY_METRICS_TOKEN&gt;</c>. Never
/// anonymous on the public port.
/// </summary>
internal static class MetricsEndpoint
{
    public static void UseRelayMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.ServesScrapes)
        {
            return;
        }

        var port = options.Port;
        var token = string.IsNullOrWhiteSpace(options.Token) ? null : Encoding.UTF8.GetBytes("Bearer " + options.Token.Trim());
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: context => context.Request.Path == MetricsOptions.Path && (token is not null || context.Connection.LocalPort == port),
            path: null,
            configureBranchedPipeline: branch => branch.Use((context, next) => Authorized(context, token) ? next(context) : RefuseAsync(context)),
            optionsName: null);
        if (port is not null)
        {
            // The metrics listener is not a second door to the API.
            app.UseWhen(
                context => context.Connection.LocalPort == port,
                static branch => branch.Run(static context =>
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return context.Response.WriteAsync("Only " + MetricsOptions.Path + " is served on this port.\n");
                }));
        }
    }

    private static bool Authorized(HttpContext context, byte[]? token)
    {
        if (token is null)
        {
            return true;
        }

        var presented = context.Request.Headers.Authorization.ToString();
        Span<byte> buffer = stackalloc byte[512];
        var length = Encoding.UTF8.GetByteCount(presented);
        if (length > buffer.Length)
        {
            return false;
        }

        Encoding.UTF8.GetBytes(presented, buffer);
        return CryptographicOperations.FixedTimeEquals(buffer[..length], token);
    }

    private static Task RefuseAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"openai-relay metrics\"";
        return context.Response.WriteAsync("Send Authorization: Bearer <RELAY_METRICS_TOKEN>.\n");
    }
}

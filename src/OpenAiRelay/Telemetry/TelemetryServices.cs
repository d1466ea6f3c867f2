using System.Reflection;
using Microsoft.Extensions.Logging.Console;
using OpenAiRelay.Configuration;
using OpenAiRelay.Pipeline;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// Wires the relay's meter and span source to the OpenTelemetry SDK, only as far as configured: the Prometheus
/// exporter when <c>/metrics</c> is served (<see cref="MetricsOptions"/>), OTLP metrics and traces when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the SDK reads every other <c>OTEL_*</c> variable itself). With none of
/// them the SDK is not registered at all, and the instruments and the span source have no listener.
/// </summary>
internal static class TelemetryServices
{
    public const string ServiceName = "openai-relay";

    public static IServiceCollection AddRelayTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<RelayMetrics>();
        services.AddSingleton<IRelayRequestObserver>(static sp => sp.GetRequiredService<RelayMetrics>());

        var scrapes = !string.IsNullOrWhiteSpace(configuration[MetricsOptions.Section + ":Port"])
            || !string.IsNullOrWhiteSpace(configuration[MetricsOptions.Section + ":Token"]);
        var otlpMetrics = OtlpExports(configuration, "METRICS");
        var otlpTraces = OtlpExports(configuration, "TRACES");
        if (!scrapes && !otlpMetrics && !otlpTraces)
        {
            return services;
        }

        var otel = services.AddOpenTelemetry();
        if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]))
        {
            var version = typeof(TelemetryServices).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            otel.ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: version));
        }

        if (scrapes || otlpMetrics)
        {
            otel.WithMetrics(metrics =>
            {
                // The relay's own instruments, and the runtime's built-in ones (CPU, memory, GC, thread pool: read at
                // collection time only).
                metrics.AddMeter(RelayDiagnostics.Name, "System.Runtime");
                if (scrapes)
                {
                    // Every scrape sees the counters as they are now (the default caches a scrape for 300 ms).
                    metrics.AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
                }

                if (otlpMetrics)
                {
                    metrics.AddOtlpExporter();
                }
            });
        }

        if (otlpTraces)
        {
            otel.WithTracing(tracing => tracing.AddSource(RelayDiagnostics.Name).AddOtlpExporter());
            // Every log line written inside a request carries its trace and span ids (the host tracks them into the
            // scope; the console formatters print scopes only when asked).
            services.Configure<SimpleConsoleFormatterOptions>(static o => o.IncludeScopes = true);
            services.Configure<JsonConsoleFormatterOptions>(static o => o.IncludeScopes = true);
            services.Configure<ConsoleFormatterOptions>(static o => o.IncludeScopes = true);
            services.Configure<LoggerFactoryOptions>(static o => o.ActivityTrackingOptions |= ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        }

        return services;
    }

    /// <summary>
    /// Whether a signal goes to an OTLP collector: an endpoint is set for it (or for all signals), and its
    /// <c>OTEL_{SIGNAL}_EXPORTER</c> is not <c>none</c>.
    /// </summary>
    private static bool OtlpExports(IConfiguration configuration, string signal)
        => (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
                || !string.IsNullOrWhiteSpace(configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]))
            && !string.Equals(configuration[$"OTEL_{signal}_EXPORTER"]?.Trim(), "none", StringComparison.OrdinalIgnoreCase);
}

namespace OpenAiRelay.Configuration;

/// <summary>
/// Tracing (<c>Relay:Tracing</c>). Spans are exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or
/// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>) is set; every other <c>OTEL_*</c> variable works as the SDK documents.
/// </summary>
internal sealed class TracingOptions
{
    public const string Section = "Relay:Tracing";

    /// <summary>
    /// <c>RELAY_TRACE_UPSTREAM</c>: the upstream call carries the relay span's <c>traceparent</c> (replacing the
    /// client's). Off by default: the relay then adds no trace header of its own, and a client's pass as it sent them.
    /// </summary>
    public bool PropagateToUpstream { get; set; }
}

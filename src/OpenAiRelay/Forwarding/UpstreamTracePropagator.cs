using System.Diagnostics;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// Writes the relay span's W3C trace context on the upstream call (<c>RELAY_TRACE_UPSTREAM</c>), in place of the
/// trace headers the client sent. The handler hands it the activity it started for the call
/// (<c>System.Net.Http.HttpRequestOut</c>), which no exporter records; the context written is that of the nearest
/// relay span above it, so the upstream's side of the trace hangs from a span the collector has.
/// </summary>
internal sealed class UpstreamTracePropagator : DistributedContextPropagator
{
    private static readonly DistributedContextPropagator s_w3c = CreateW3CPropagator();

    public override IReadOnlyCollection<string> Fields => s_w3c.Fields;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter)
    {
        if (carrier is HttpRequestMessage request)
        {
            foreach (var field in Fields)
            {
                request.Headers.Remove(field);
            }

            // Baggage is the client's business with its own services, never the upstream's.
            request.Headers.Remove("baggage");
            request.Headers.Remove("Correlation-Context");
        }

        var span = activity;
        while (span is not null && span.Source.Name != RelayDiagnostics.Name)
        {
            span = span.Parent;
        }

        if (span is not null)
        {
            s_w3c.Inject(span, carrier, setter);
        }
    }

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
        => s_w3c.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter)
        => s_w3c.ExtractBaggage(carrier, getter);
}

using System.Diagnostics;
using Microsoft.Net.Http.Headers;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// One span per relayed <c>/v1</c> request on the <see cref="RelayDiagnostics.Name"/> <see cref="ActivitySource"/>,
/// a server span that continues the client's <c>traceparent</c>. Its GenAI attributes (OpenTelemetry semantic
/// conventions) and usage are set from the settled <see cref="RelayRequestRecord"/>. Attributes come from an
/// allow-list: no header value, no query, no prompt or completion content, the client by its label only.
/// </summary>
internal static class RequestSpan
{
    public static readonly ActivitySource Source = new(RelayDiagnostics.Name);

    /// <summary>Null, at the cost of one check, unless a tracer provider listens (OTLP export is configured).</summary>
    public static Activity? Start(HttpContext context, string requestId)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var headers = context.Request.Headers;
        ActivityContext.TryParse(headers[HeaderNames.TraceParent], headers[HeaderNames.TraceState], isRemote: true, out var parent);
        // NOTE: ASP.NET Core starts an unexported activity of its own for every request; a span parented on it would
        // name a parent no collector ever receives. The client's traceparent (or none: a new trace) is the parent.
        Activity.Current = null;
        var endpoint = EndpointLabel.Of(RelayPaths.Remainder(context.Request));
        var span = Source.StartActivity(ActivityKind.Server, parent, name: context.Request.Method + " /v1/" + endpoint);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("http.request.method", context.Request.Method);
            span.SetTag("url.path", context.Request.Path.Value);
            span.SetTag("relay.endpoint", endpoint);
            span.SetTag("relay.request_id", requestId);
        }

        return span;
    }

    public static void Complete(Activity span, RelayRequestRecord record)
    {
        if (!span.IsAllDataRequested)
        {
            return;
        }

        span.SetTag("http.response.status_code", record.StatusCode);
        span.SetTag("relay.outcome", OutcomeLabel.Of(record.Outcome));
        span.SetTag("relay.key", record.ClientLabel);
        span.SetTag("client.address", record.ClientAddress);
        span.SetTag("relay.upstream.request_id", record.UpstreamRequestId);
        var operation = GenAiOperation.Of(record);
        if (operation is not null)
        {
            span.DisplayName = record.RequestedModel is { Length: > 0 } model ? operation + " " + Truncated(model) : operation;
            span.SetTag("gen_ai.operation.name", operation);
            span.SetTag("gen_ai.provider.name", GenAiOperation.Provider);
            span.SetTag("gen_ai.request.model", Truncated(record.RequestedModel));
            span.SetTag("gen_ai.response.model", Truncated(record.ResponseModel));
        }

        if (record.Usage is { } usage)
        {
            span.SetTag("gen_ai.usage.input_tokens", usage.InputTokens);
            span.SetTag("gen_ai.usage.output_tokens", usage.OutputTokens);
            span.SetTag("gen_ai.usage.cache_read.input_tokens", usage.CachedTokens);
            span.SetTag("gen_ai.usage.reasoning.output_tokens", usage.ReasoningTokens);
            span.SetTag("relay.usage.estimated", usage.Estimated);
            if (usage.CostMicros is { } cost)
            {
                span.SetTag("relay.cost.usd", cost / 1_000_000d);
            }
        }

        if (record.FirstByteMs is { } firstByte && record.Stream == ResponseStreamKind.EventStream)
        {
            span.SetTag("gen_ai.response.time_to_first_chunk", firstByte / 1000);
        }

        if (ErrorType.Of(record) is { } error)
        {
            span.SetTag("error.type", error);
            // A refusal or a 4xx is the caller's: the span failed only when the relay or the upstream did.
            if (record.StatusCode >= 500 || record.Outcome is RequestOutcome.UpstreamError or RequestOutcome.UpstreamTimeout)
            {
                span.SetStatus(ActivityStatusCode.Error, error);
            }
        }
    }

    // A client may name any model; a span attribute stays bounded.
    private static string? Truncated(string? model) => model is { Length: > 128 } ? model[..128] : model;
}

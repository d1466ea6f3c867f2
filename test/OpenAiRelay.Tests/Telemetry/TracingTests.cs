using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using OpenTelemetry.Trace;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// One server span per relayed request, continuing the client's <c>traceparent</c>, with the GenAI attributes and
/// the usage set at settlement; exported over OTLP/HTTP to a collector endpoint on 127.0.0.1 (and, for exact attribute
/// assertions, to the SDK's in-memory exporter beside it). No secret in any span or export.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TracingTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;
    private OtlpReceiver _collector = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _collector = await OtlpReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _collector.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task ARelayedChat_IsOneServerSpan_InTheClientsTrace_WithGenAiAttributesAndTheUpstreamsUsage_ExportedOverOtlp()
    {
        var spans = new List<Activity>();
        await using var relay = await StartRelayAsync(spans);
        var (traceId, clientSpan, traceparent) = NewClientContext();
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using var request = Chat();
        request.Headers.Add("traceparent", traceparent);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var usage = body.RootElement.GetProperty("usage");

        var span = await SpanOfAsync(spans, traceId);
        Assert.Equal("OpenAiRelay", span.Source.Name);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(clientSpan, span.ParentSpanId);
        Assert.Equal("chat gpt-4o-mini", span.DisplayName);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("openai", span.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("gpt-4o-mini", span.GetTagItem("gen_ai.request.model"));
        Assert.Equal("gpt-4o-mini", span.GetTagItem("gen_ai.response.model"));
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt64(), span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(usage.GetProperty("completion_tokens").GetInt64(), span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(false, span.GetTagItem("relay.usage.estimated"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        Assert.Equal("/v1/chat/completions", span.GetTagItem("url.path"));
        Assert.Equal("relay-token", span.GetTagItem("relay.key"));
        Assert.Equal(response.Headers.GetValues("x-relay-request-id").Single(), span.GetTagItem("relay.request_id"));
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), span.GetTagItem("relay.upstream.request_id"));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
        Assert.Null(span.GetTagItem("error.type"));

        // The same span reached the collector: its trace id, as the 16 bytes OTLP carries, with its attributes.
        var export = await _collector.WaitForExportAsync("/v1/traces", TraceIdBytes(traceId), TaskTimeouts.Default);
        var text = Encoding.Latin1.GetString(export);
        Assert.Contains("gen_ai.usage.input_tokens", text, StringComparison.Ordinal);
        Assert.Contains("chat gpt-4o-mini", text, StringComparison.Ordinal);
        Assert.Contains("openai-relay", text, StringComparison.Ordinal);
        foreach (var exported in _collector.Exports)
        {
            Secrets.AssertAbsent(Encoding.Latin1.GetString(exported.Body), "an OTLP export");
        }

        Secrets.AssertAbsent(string.Join('\n', spans.SelectMany(s => s.TagObjects).Select(t => t.Key + "=" + t.Value)), "span attributes");
    }

    [Fact]
    public async Task ARefusedRequest_CarriesItsReasonAsErrorType_AndAStreamItsTimeToFirstChunk()
    {
        var spans = new List<Activity>();
        await using var relay = await StartRelayAsync(spans);

        var (refusedTrace, _, refusedParent) = NewClientContext();
        using (var wrong = relay.CreateClient("rt-not-a-token"))
        using (var refusedRequest = new HttpRequestMessage(HttpMethod.Get, "v1/models"))
        {
            refusedRequest.Headers.Add("traceparent", refusedParent);
            using var refused = await wrong.SendAsync(refusedRequest).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var refusedSpan = await SpanOfAsync(spans, refusedTrace);
        Assert.Equal("auth", refusedSpan.GetTagItem("error.type"));
        Assert.Equal("rejected", refusedSpan.GetTagItem("relay.outcome"));
        Assert.Equal("GET /v1/models", refusedSpan.DisplayName);
        // The caller's fault, not the relay's: the span is not marked failed.
        Assert.Equal(ActivityStatusCode.Unset, refusedSpan.Status);

        var (streamTrace, _, streamParent) = NewClientContext();
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using var stream = Chat(stream: true);
        stream.Headers.Add("traceparent", streamParent);
        using (var streamed = await client.SendAsync(stream).DefaultTimeout())
        {
            await streamed.Content.ReadAsStringAsync();
        }

        var streamSpan = await SpanOfAsync(spans, streamTrace);
        Assert.IsType<double>(streamSpan.GetTagItem("gen_ai.response.time_to_first_chunk"));
        Assert.True((long)streamSpan.GetTagItem("gen_ai.usage.output_tokens")! > 0);
    }

    [Fact]
    public async Task WithoutATraceparent_TheSpanStartsANewTrace()
    {
        var spans = new List<Activity>();
        await using var relay = await StartRelayAsync(spans);
        using var client = relay.CreateClient(RelayServer.ClientToken);
        using var response = await client.SendAsync(Chat()).DefaultTimeout();
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();

        var span = await WaitAsync(() => spans.ToArray().FirstOrDefault(s => (string?)s.GetTagItem("relay.request_id") == requestId));
        Assert.Equal(default, span.ParentSpanId);
        Assert.NotEqual(default, span.TraceId);
    }

    [Fact]
    public async Task TheUpstream_GetsTheClientsTraceHeadersAsSent_UnlessPropagationIsOn_ThenTheRelaySpansContext()
    {
        var spans = new List<Activity>();
        await using (var relay = await StartRelayAsync(spans))
        {
            var (_, _, traceparent) = NewClientContext();
            await SendAsync(relay, traceparent);
            var seen = await _fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("traceparent") == traceparent, TaskTimeouts.Default);
            Assert.Equal(traceparent, seen.Headers["traceparent"]);
        }

        await using (var relay = await StartRelayAsync(spans, new() { ["Relay:Tracing:PropagateToUpstream"] = "true" }))
        {
            var (traceId, clientSpan, traceparent) = NewClientContext();
            await SendAsync(relay, traceparent);
            var span = await SpanOfAsync(spans, traceId);
            var seen = await _fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("traceparent")?.Contains(traceId.ToHexString(), StringComparison.Ordinal) == true, TaskTimeouts.Default);
            // One context, the relay span's: the upstream call is its child, and the client's span id is replaced.
            Assert.Equal($"00-{traceId.ToHexString()}-{span.SpanId.ToHexString()}-01", seen.Headers["traceparent"]);
            Assert.DoesNotContain(clientSpan.ToHexString(), seen.Headers["traceparent"], StringComparison.Ordinal);
        }

        static async Task SendAsync(RelayServer relay, string traceparent)
        {
            using var client = relay.CreateClient(RelayServer.ClientToken);
            using var request = Chat();
            request.Headers.Add("traceparent", traceparent);
            using var response = await client.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task ThePublishedRelay_WritesTheTraceAndSpanIdsIntoItsRequestLogLine()
    {
        var port = RelayProcess.FreePort();
        await using var relay = await PublishedRelay.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary,
            ["RELAY_TOKEN"] = RelayServer.ClientToken,
            ["OPENAI_BASE_URL"] = _fake.BaseAddress.ToString(),
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _collector.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["Logging__Console__FormatterName"] = "json",
        });
        await relay.WaitUntilHealthyAsync(port);
        var (traceId, _, traceparent) = NewClientContext();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        using var request = Chat();
        request.Headers.Add("traceparent", traceparent);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await _collector.WaitForExportAsync("/v1/traces", TraceIdBytes(traceId), TaskTimeouts.Default);
        var line = await WaitAsync(() => relay.Output.Split('\n').FirstOrDefault(l => l.Contains("\"OpenAiRelay.Telemetry.RequestLog\"", StringComparison.Ordinal)));
        using var entry = JsonDocument.Parse(line);
        var scopes = entry.RootElement.GetProperty("Scopes").EnumerateArray().ToArray();
        Assert.Contains(scopes, s => s.TryGetProperty("TraceId", out var id) && id.GetString() == traceId.ToHexString());
        Assert.Contains(scopes, s => s.TryGetProperty("SpanId", out var id) && id.GetString()!.Length == 16);
        Secrets.AssertAbsent(relay.Output, "the relay's output");
    }

    private Task<RelayServer> StartRelayAsync(List<Activity> spans, Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _collector.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        };
        foreach (var (key, value) in settings ?? [])
        {
            values[key] = value;
        }

        return RelayServer.StartAsync(
            _fake.BaseAddress.ToString().TrimEnd('/'),
            values,
            services: services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
    }

    private static (ActivityTraceId TraceId, ActivitySpanId SpanId, string Traceparent) NewClientContext()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spanId = ActivitySpanId.CreateRandom();
        return (traceId, spanId, $"00-{traceId.ToHexString()}-{spanId.ToHexString()}-01");
    }

    private static byte[] TraceIdBytes(ActivityTraceId traceId)
    {
        var bytes = new byte[16];
        traceId.CopyTo(bytes);
        return bytes;
    }

    private static Task<Activity> SpanOfAsync(List<Activity> spans, ActivityTraceId traceId)
        => WaitAsync(() => spans.ToArray().FirstOrDefault(s => s.TraceId == traceId && s.Source.Name == "OpenAiRelay"));

    private static async Task<T> WaitAsync<T>(Func<T?> find)
        where T : class
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            try
            {
                if (find() is { } found)
                {
                    return found;
                }
            }
            catch (InvalidOperationException)
            {
                // The exporter appended while the list was read; read again.
            }

            Assert.True(DateTime.UtcNow < deadline, "not exported in time");
            await Task.Delay(50);
        }
    }

    private static HttpRequestMessage Chat(bool stream = false) => new(HttpMethod.Post, "v1/chat/completions")
    {
        Content = new StringContent(
            $$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
    };
}

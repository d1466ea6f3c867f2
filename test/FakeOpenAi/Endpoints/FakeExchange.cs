using System.Text.Json;
using FakeOpenAi.Faults;
using FakeOpenAi.Hosting;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>One request as an endpoint sees it: the context, the fault plan, and the writers it needs.</summary>
internal sealed class FakeExchange(HttpContext context, FakeState state, FakeRequestFeature feature) : IDisposable
{
    private JsonBuffer? _json;

    public HttpContext Context => context;

    public HttpRequest Request => context.Request;

    public HttpResponse Response => context.Response;

    public FakeState State => state;

    public FakeOpenAiOptions Options => state.Options;

    public FakeRequestFeature Feature => feature;

    public FaultPlan Plan => feature.Plan;

    public CancellationToken Aborted => context.RequestAborted;

    /// <summary>Set by an endpoint whose whole JSON body is also kept as a stored object (store: true).</summary>
    public Action<ReadOnlyMemory<byte>>? StoreHook { get; set; }

    /// <summary>A reusable JSON writer for this request's bodies and events.</summary>
    public JsonBuffer Json => _json ??= new JsonBuffer();

    /// <summary>Content deltas to stream (and words in a non-streamed reply).</summary>
    public int EventCount => Math.Max(0, Plan.EventCount ?? Options.DefaultEventCount);

    public StreamPacer CreateEventPacer() => new(context, feature, state.Time, Plan.EventInterval ?? Options.StreamEventInterval);

    /// <summary>Binary bodies go as fast as possible unless a test asks for pacing explicitly.</summary>
    public StreamPacer CreateChunkPacer() => new(context, feature, state.Time, Plan.EventInterval ?? TimeSpan.Zero);

    /// <summary>Parses the JSON body; on failure writes OpenAI's 400 and returns null.</summary>
    public async Task<JsonDocument?> ReadJsonAsync()
    {
        try
        {
            var document = await JsonDocument.ParseAsync(Request.Body, default, Aborted);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
        }
        catch (JsonException)
        {
        }

        await OpenAiErrors.InvalidJsonAsync(context);
        return null;
    }

    /// <summary>Sends what was written to <see cref="Json"/> as the whole response.</summary>
    public async Task WriteJsonAsync(int status = StatusCodes.Status200OK)
    {
        await CreateEventPacer().BeforeWholeBodyAsync();
        var body = UsageOverride.Apply(Request, Json.Written);
        StoreHook?.Invoke(body);
        Response.StatusCode = status;
        Response.ContentType = "application/json";
        if (Plan.TruncateJson)
        {
            // A broken upstream: 200, then half a document, then a clean end of the chunked body.
            await Response.Body.WriteAsync(body[..(body.Length / 2)], Aborted);
            return;
        }

        Response.ContentLength = body.Length;
        await Response.Body.WriteAsync(body, Aborted);
    }

    public async Task<SseStream> StartSseAsync()
    {
        var sse = new SseStream(context, CreateEventPacer());
        await sse.StartAsync();
        return sse;
    }

    public void Dispose() => _json?.Dispose();
}

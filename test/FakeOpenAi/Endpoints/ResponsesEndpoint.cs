using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary><c>POST /v1/responses</c>: a Response object, or named-event SSE with no <c>[DONE]</c> (wire doc §2.2).</summary>
internal static class ResponsesEndpoint
{
    public static async Task HandleAsync(FakeExchange x)
    {
        using var document = await x.ReadJsonAsync();
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        if (ResponseRun.Create(root, x.State.UnixNow, x.EventCount) is not { } run)
        {
            await OpenAiErrors.MissingModelAsync(x.Context);
            return;
        }

        if (!JsonRead.Bool(root, "stream"))
        {
            run.WriteCompleted(x.Json.Start());
            await x.WriteJsonAsync();
            return;
        }

        var includeObfuscation = JsonRead.Object(root, "stream_options") is not { } options
            || JsonRead.Bool(options, "include_obfuscation", fallback: true);
        var sse = await x.StartSseAsync();
        await run.StreamAsync(new SseEventSink(sse), x.Json, x.Plan.MidStreamError, includeObfuscation);
    }
}

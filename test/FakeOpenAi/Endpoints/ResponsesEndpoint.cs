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

        var background = JsonRead.Bool(root, "background");
        if (!JsonRead.Bool(root, "stream"))
        {
            run.WriteCompleted(x.Json.Start());
            if (background)
            {
                // Accepted, not done: the client polls GET /v1/responses/{id} until the final object with its usage.
                var final = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(x.Json.Written.Span)!;
                final["background"] = true;
                var polls = int.TryParse(x.Request.Headers["x-fake-background-polls"], System.Globalization.CultureInfo.InvariantCulture, out var p) ? p : 2;
                var stored = x.State.Stored.Put(Stored.Families.Responses, System.Text.Encoding.UTF8.GetBytes(final.ToJsonString()), pollsLeft: Math.Max(1, polls));
                StoreInputItems(x, root, stored);
                var queued = System.Text.Encoding.UTF8.GetBytes(stored.Unfinished("queued"));
                x.Response.ContentType = "application/json";
                x.Response.ContentLength = queued.Length;
                await x.Response.Body.WriteAsync(queued, x.Aborted);
                return;
            }

            if (JsonRead.Bool(root, "store", fallback: true))
            {
                x.StoreHook = body => StoreInputItems(x, root, x.State.Stored.Put(Stored.Families.Responses, body));
            }

            await x.WriteJsonAsync();
            return;
        }

        var includeObfuscation = JsonRead.Object(root, "stream_options") is not { } options
            || JsonRead.Bool(options, "include_obfuscation", fallback: true);
        var sse = await x.StartSseAsync();
        await run.StreamAsync(new SseEventSink(sse), x.Json, x.Plan.MidStreamError, includeObfuscation);
    }

    /// <summary>Keeps the request's input for <c>GET /v1/responses/{id}/input_items</c>.</summary>
    private static void StoreInputItems(FakeExchange x, System.Text.Json.JsonElement root, Stored.StoredObject response)
    {
        if (root.TryGetProperty("input", out var input))
        {
            var items = Stored.InputItems.From(input, Stored.Families.ResponseInputItems);
            Stored.InputItems.Store(x.State.Stored, Stored.Families.ResponseInputItems, response.Field<string>("id")!, items);
        }
    }
}

using System.Text;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored;

/// <summary>Reads, cancels and deletes of stored objects, and batches (which carry usage when read back).</summary>
internal static class StoredEndpoints
{
    public static Task? Route(string method, string rest, FakeExchange x)
    {
        var get = HttpMethods.IsGet(method);
        var post = HttpMethods.IsPost(method);
        var delete = HttpMethods.IsDelete(method);
        var parts = rest.Split('/');
        if (parts is ["batches"] && post)
        {
            return CreateBatchAsync(x);
        }

        if (parts.Length < 2 || parts[1].Length == 0 || parts[0] is not ("responses" or "batches" or "chat"))
        {
            return null;
        }

        if (parts[0] == "chat")
        {
            if (parts.Length < 3 || parts[1] != "completions")
            {
                return null;
            }

            parts = ["chat", .. parts[2..]];
        }

        var id = parts[1];
        var stored = x.State.Stored.Get(id);
        return (parts.Length, get, post, delete) switch
        {
            (2, true, _, _) => stored is null ? OpenAiErrors.NotFoundAsync(x.Context, id) : WriteAsync(x, stored.Read()),
            (2, _, _, true) => x.State.Stored.Remove(id)
                ? WriteAsync(x, $$"""{"id":"{{id}}","object":"{{(parts[0] == "chat" ? "chat.completion.deleted" : "response.deleted")}}","deleted":true}""")
                : OpenAiErrors.NotFoundAsync(x.Context, id),
            (3, _, true, _) when parts[2] == "cancel" => stored is null ? OpenAiErrors.NotFoundAsync(x.Context, id) : WriteAsync(x, stored.Cancel()),
            (3, true, _, _) when parts[2] == "input_items" => stored is null
                ? OpenAiErrors.NotFoundAsync(x.Context, id)
                : WriteAsync(x, """{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}"""),
            _ => null,
        };
    }

    private static async Task CreateBatchAsync(FakeExchange x)
    {
        using var document = await x.ReadJsonAsync();
        if (document is null)
        {
            return;
        }

        var batch = new JsonObject
        {
            ["id"] = "batch_" + Ids.Alphanumeric(24),
            ["object"] = "batch",
            ["endpoint"] = JsonRead.String(document.RootElement, "endpoint") ?? "/v1/chat/completions",
            ["input_file_id"] = JsonRead.String(document.RootElement, "input_file_id"),
            ["completion_window"] = "24h",
            ["status"] = "completed",
            ["created_at"] = x.State.UnixNow,
            ["request_counts"] = new JsonObject { ["total"] = 1, ["completed"] = 1, ["failed"] = 0 },
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = 120,
                ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
                ["output_tokens"] = 40,
                ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
                ["total_tokens"] = 160,
            },
        };
        var text = batch.ToJsonString();
        x.State.Stored.Put(Encoding.UTF8.GetBytes(text));
        await WriteAsync(x, text);
    }

    private static async Task WriteAsync(FakeExchange x, string json)
    {
        var body = UsageOverride.Apply(x.Request, Encoding.UTF8.GetBytes(json));
        x.Response.StatusCode = StatusCodes.Status200OK;
        x.Response.ContentType = "application/json";
        x.Response.ContentLength = body.Length;
        await x.Response.Body.WriteAsync(body, x.Aborted);
    }
}

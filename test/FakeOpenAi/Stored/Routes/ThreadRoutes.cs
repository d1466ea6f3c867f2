using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/threads</c> (beta): threads (create with <c>messages</c>, get, update, delete), <c>/messages</c> (create,
/// list with <c>run_id</c>, get, update, delete), <c>/runs</c> and <c>POST /threads/runs</c> (a run completes at
/// once: one assistant message, one <c>message_creation</c> step, <c>usage</c>), run cancel, <c>/steps</c>.
/// Streaming runs are not faked: <c>"stream": true</c> still answers JSON.
/// </summary>
internal static class ThreadRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var threads = Families.Threads;
        var messages = Families.ThreadMessages;
        return call.Path switch
        {
            ["threads"] when call.Post => StoredApi.CreateAsync(x, threads, string.Empty, body => CreateThread(x, body)),
            ["threads", "runs"] when call.Post => CreateThreadAndRunAsync(x),
            ["threads", var id] when call.Get => StoredApi.GetAsync(x, threads, id),
            ["threads", var id] when call.Post => StoredApi.UpdateAsync(x, threads, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, "metadata", "tool_resources")),
            ["threads", var id] when call.Delete => StoredApi.DeleteAsync(x, threads, id),
            ["threads", var id, "messages"] when call.Post =>
                StoredApi.WithParent(x, threads, id, _ => StoredApi.CreateAsync(x, messages, id, body => Message(x, id, body), StatusCodes.Status200OK, "role", "content")),
            ["threads", var id, "messages"] when call.Get => StoredApi.WithParent(x, threads, id, _ => ListMessagesAsync(x, id)),
            ["threads", var id, "messages", var messageId] when call.Get => StoredApi.GetAsync(x, messages, messageId, id),
            ["threads", var id, "messages", var messageId] when call.Post => StoredApi.UpdateAsync(x, messages, messageId, id, (body, node) => StoredApi.CopySet(body, node, "metadata")),
            ["threads", var id, "messages", var messageId] when call.Delete => StoredApi.DeleteAsync(x, messages, messageId, id),
            ["threads", var id, "runs"] when call.Post =>
                StoredApi.WithParent(x, threads, id, _ => StoredApi.CreateAsync(x, Families.Runs, id, body => Run(x, id, body), StatusCodes.Status200OK, "assistant_id")),
            ["threads", var id, "runs"] when call.Get => StoredApi.WithParent(x, threads, id, _ => StoredApi.ListAsync(x, Families.Runs, id)),
            ["threads", var id, "runs", var runId] when call.Get => StoredApi.GetAsync(x, Families.Runs, runId, id),
            ["threads", var id, "runs", var runId] when call.Post => StoredApi.UpdateAsync(x, Families.Runs, runId, id, (body, node) => StoredApi.CopySet(body, node, "metadata")),
            ["threads", var id, "runs", var runId, "cancel"] when call.Post => StoredApi.ChangeAsync(x, Families.Runs, runId, id, node => Cancel(node, x.State.UnixNow)),
            ["threads", var id, "runs", var runId, "steps"] when call.Get =>
                StoredApi.WithParent(x, Families.Runs, runId, _ => StoredApi.ListAsync(x, Families.RunSteps, runId), id),
            ["threads", var id, "runs", var runId, "steps", var stepId] when call.Get =>
                StoredApi.WithParent(x, Families.Runs, runId, _ => StoredApi.GetAsync(x, Families.RunSteps, stepId, runId), id),
            _ => null,
        };
    }

    private static JsonObject CreateThread(FakeExchange x, JsonElement body)
    {
        var thread = StoredApi.NewObject(x, Families.Threads);
        var id = thread["id"]!.GetValue<string>();
        thread["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        thread["tool_resources"] = StoredApi.Field(body, "tool_resources", new JsonObject());
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                x.State.Stored.Put(Families.ThreadMessages, id, Message(x, id, message));
            }
        }

        return thread;
    }

    private static async Task CreateThreadAndRunAsync(FakeExchange x)
    {
        using var body = await StoredApi.ReadBodyAsync(x);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        if (!root.TryGetProperty("assistant_id", out _))
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "assistant_id");
            return;
        }

        var thread = CreateThread(x, root.TryGetProperty("thread", out var t) && t.ValueKind == JsonValueKind.Object ? t : default);
        var threadId = thread["id"]!.GetValue<string>();
        x.State.Stored.Put(Families.Threads, string.Empty, thread);
        var run = Run(x, threadId, root);
        x.State.Stored.Put(Families.Runs, threadId, run);
        await StoredApi.WriteAsync(x, run.ToJsonString());
    }

    private static JsonObject Message(FakeExchange x, string threadId, JsonElement body, string? runId = null, string? assistantId = null)
    {
        var message = StoredApi.NewObject(x, Families.ThreadMessages);
        message["thread_id"] = threadId;
        message["status"] = "completed";
        message["assistant_id"] = assistantId;
        message["run_id"] = runId;
        message["role"] = JsonRead.String(body, "role") ?? "user";
        var text = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("content", out var content) ? JsonRead.Text(content) : string.Empty;
        message["content"] = new JsonArray(new JsonObject
        {
            ["type"] = "text",
            ["text"] = new JsonObject { ["value"] = text, ["annotations"] = new JsonArray() },
        });
        message["attachments"] = StoredApi.Field(body, "attachments", new JsonArray());
        message["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        return message;
    }

    private static JsonObject Run(FakeExchange x, string threadId, JsonElement body)
    {
        var run = StoredApi.NewObject(x, Families.Runs);
        var runId = run["id"]!.GetValue<string>();
        var assistantId = JsonRead.String(body, "assistant_id");
        var now = x.State.UnixNow;
        var reply = Message(x, threadId, default, runId, assistantId);
        reply["role"] = "assistant";
        reply["content"]![0]!["text"]!["value"] = "This is a fake run's reply.";
        x.State.Stored.Put(Families.ThreadMessages, threadId, reply);

        var usage = new JsonObject { ["prompt_tokens"] = 20, ["completion_tokens"] = 8, ["total_tokens"] = 28 };
        var step = StoredApi.NewObject(x, Families.RunSteps);
        step["run_id"] = runId;
        step["assistant_id"] = assistantId;
        step["thread_id"] = threadId;
        step["type"] = "message_creation";
        step["status"] = "completed";
        step["completed_at"] = now;
        step["step_details"] = new JsonObject
        {
            ["type"] = "message_creation",
            ["message_creation"] = new JsonObject { ["message_id"] = reply["id"]!.GetValue<string>() },
        };
        step["usage"] = usage.DeepClone();
        x.State.Stored.Put(Families.RunSteps, runId, step);

        run["thread_id"] = threadId;
        run["assistant_id"] = assistantId;
        run["status"] = "completed";
        run["started_at"] = now;
        run["completed_at"] = now;
        run["cancelled_at"] = null;
        run["failed_at"] = null;
        run["last_error"] = null;
        run["model"] = JsonRead.String(body, "model") ?? "gpt-4o";
        run["instructions"] = JsonRead.String(body, "instructions") ?? string.Empty;
        run["tools"] = StoredApi.Field(body, "tools", new JsonArray());
        run["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        run["usage"] = usage;
        return run;
    }

    private static void Cancel(JsonObject run, long now)
    {
        run["status"] = "cancelled";
        run["cancelled_at"] = now;
    }

    private static Task ListMessagesAsync(FakeExchange x, string threadId)
    {
        var runId = x.Request.Query["run_id"].ToString();
        return StoredApi.ListAsync(x, Families.ThreadMessages, threadId, runId.Length == 0 ? null : m => m.Field<string>("run_id") == runId);
    }
}

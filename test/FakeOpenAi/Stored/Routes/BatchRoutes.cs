using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/batches</c>: a batch is created finished, with <c>usage</c> and an <c>output_file_id</c> that names a real
/// stored file (its content is <see cref="FakeContent"/> bytes); list, get, cancel (a finished batch stays as it is).
/// </summary>
internal static class BatchRoutes
{
    private const long OutputBytes = 1024;

    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        return call.Path switch
        {
            ["batches"] when call.Post => StoredApi.CreateAsync(x, Families.Batches, string.Empty, body => Create(x, body)),
            ["batches"] when call.Get => StoredApi.ListAsync(x, Families.Batches),
            ["batches", var id] when call.Get => StoredApi.GetAsync(x, Families.Batches, id),
            ["batches", var id, "cancel"] when call.Post => StoredApi.ChangeAsync(x, Families.Batches, id, string.Empty, node => Cancel(node, x.State.UnixNow)),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, System.Text.Json.JsonElement body)
    {
        var batch = StoredApi.NewObject(x, Families.Batches);
        var id = batch["id"]!.GetValue<string>();
        var now = x.State.Time.GetUtcNow();
        var output = new UploadedFile(Families.Files.NewId(), id + "_output.jsonl", "batch_output", OutputBytes, FakeContent.Sha256(OutputBytes), now);
        x.State.Files.Add(output);
        batch["endpoint"] = JsonRead.String(body, "endpoint") ?? "/v1/chat/completions";
        batch["errors"] = null;
        batch["input_file_id"] = JsonRead.String(body, "input_file_id");
        batch["completion_window"] = JsonRead.String(body, "completion_window") ?? "24h";
        batch["status"] = "completed";
        batch["output_file_id"] = output.Id;
        batch["error_file_id"] = null;
        batch["in_progress_at"] = x.State.UnixNow;
        batch["expires_at"] = x.State.UnixNow + 86_400;
        batch["finalizing_at"] = x.State.UnixNow;
        batch["completed_at"] = x.State.UnixNow;
        batch["failed_at"] = null;
        batch["expired_at"] = null;
        batch["cancelling_at"] = null;
        batch["cancelled_at"] = null;
        batch["request_counts"] = new JsonObject { ["total"] = 1, ["completed"] = 1, ["failed"] = 0 };
        batch["usage"] = new JsonObject
        {
            ["input_tokens"] = 120,
            ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
            ["output_tokens"] = 40,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
            ["total_tokens"] = 160,
        };
        batch["metadata"] = StoredApi.Field(body, "metadata");
        return batch;
    }

    private static void Cancel(JsonObject batch, long now)
    {
        if (batch["status"]?.GetValue<string>() is "validating" or "in_progress" or "finalizing")
        {
            batch["status"] = "cancelled";
            batch["cancelled_at"] = now;
        }
    }
}

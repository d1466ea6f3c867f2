using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/fine_tuning/jobs</c>: create (needs <c>model</c> and <c>training_file</c>; the job waits in
/// <c>validating_files</c> with one event), list, get, cancel, pause, resume (each adds an event), <c>/events</c>,
/// <c>/checkpoints</c> (none: the job never trains).
/// </summary>
internal static class FineTuningRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var jobs = Families.FineTuningJobs;
        return call.Path switch
        {
            ["fine_tuning", "jobs"] when call.Post => StoredApi.CreateAsync(x, jobs, string.Empty, body => Create(x, body), StatusCodes.Status200OK, "model", "training_file"),
            ["fine_tuning", "jobs"] when call.Get => StoredApi.ListAsync(x, jobs),
            ["fine_tuning", "jobs", var id] when call.Get => StoredApi.GetAsync(x, jobs, id),
            ["fine_tuning", "jobs", var id, "cancel"] when call.Post => ChangeAsync(x, id, "cancelled", "Fine-tuning job cancelled"),
            ["fine_tuning", "jobs", var id, "pause"] when call.Post => ChangeAsync(x, id, "paused", "Fine-tuning job paused"),
            ["fine_tuning", "jobs", var id, "resume"] when call.Post => ChangeAsync(x, id, "running", "Fine-tuning job resumed"),
            ["fine_tuning", "jobs", var id, "events"] when call.Get => StoredApi.WithParent(x, jobs, id, _ => StoredApi.ListAsync(x, Families.FineTuningEvents, id)),
            ["fine_tuning", "jobs", var id, "checkpoints"] when call.Get => StoredApi.WithParent(x, jobs, id, _ => StoredApi.ListAsync(x, Families.FineTuningCheckpoints, id)),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var job = StoredApi.NewObject(x, Families.FineTuningJobs);
        job["model"] = JsonRead.String(body, "model");
        job["fine_tuned_model"] = null;
        job["organization_id"] = "org-fake";
        job["status"] = "validating_files";
        job["training_file"] = JsonRead.String(body, "training_file");
        job["validation_file"] = JsonRead.String(body, "validation_file");
        job["hyperparameters"] = StoredApi.Field(body, "hyperparameters", new JsonObject { ["n_epochs"] = "auto", ["batch_size"] = "auto", ["learning_rate_multiplier"] = "auto" });
        job["method"] = StoredApi.Field(body, "method");
        job["result_files"] = new JsonArray();
        job["trained_tokens"] = null;
        job["error"] = null;
        job["finished_at"] = null;
        job["estimated_finish"] = null;
        job["integrations"] = StoredApi.Field(body, "integrations", new JsonArray());
        job["seed"] = JsonRead.Int(body, "seed") ?? 42;
        job["suffix"] = JsonRead.String(body, "suffix");
        job["metadata"] = StoredApi.Field(body, "metadata");
        AddEvent(x, job["id"]!.GetValue<string>(), "Validating training file: " + JsonRead.String(body, "training_file"));
        if (x.Request.Headers["x-fake-job-status"] == "succeeded")
        {
            // A job that has already finished, for tests of what it produced: the fine-tuned model, named as OpenAI does.
            var id = job["id"]!.GetValue<string>();
            job["status"] = "succeeded";
            job["fine_tuned_model"] = $"ft:{JsonRead.String(body, "model")}:org-fake:{JsonRead.String(body, "suffix") ?? "custom"}:{id[^8..]}";
            job["finished_at"] = x.State.UnixNow;
            x.State.FineTunedModels.Enqueue((job["fine_tuned_model"]!.GetValue<string>(), x.State.UnixNow));
        }

        return job;
    }

    private static Task ChangeAsync(FakeExchange x, string id, string status, string message) =>
        StoredApi.ChangeAsync(x, Families.FineTuningJobs, id, string.Empty, job =>
        {
            job["status"] = status;
            AddEvent(x, id, message);
        });

    private static void AddEvent(FakeExchange x, string jobId, string message)
    {
        var node = StoredApi.NewObject(x, Families.FineTuningEvents);
        node["level"] = "info";
        node["message"] = message;
        node["data"] = new JsonObject();
        node["type"] = "message";
        x.State.Stored.Put(Families.FineTuningEvents, jobId, node);
    }
}

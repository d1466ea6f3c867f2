using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/evals</c>: create (201, as OpenAI answers), list, get, update, delete (<c>eval_id</c>); <c>/runs</c>: create
/// (201, <c>queued</c>), list (<c>status</c> filter), get, cancel (<c>POST /runs/{id}</c>: <c>canceled</c>, OpenAI's
/// spelling), delete (<c>run_id</c>); <c>/output_items</c> lists none.
/// </summary>
internal static class EvalRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var evals = Families.Evals;
        var runs = Families.EvalRuns;
        return call.Path switch
        {
            ["evals"] when call.Post => StoredApi.CreateAsync(x, evals, string.Empty, body => Create(x, body), StatusCodes.Status201Created),
            ["evals"] when call.Get => StoredApi.ListAsync(x, evals),
            ["evals", var id] when call.Get => StoredApi.GetAsync(x, evals, id),
            ["evals", var id] when call.Post => StoredApi.UpdateAsync(x, evals, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, "name", "metadata")),
            ["evals", var id] when call.Delete => StoredApi.DeleteAsync(x, evals, id),
            ["evals", var id, "runs"] when call.Post =>
                StoredApi.WithParent(x, evals, id, _ => StoredApi.CreateAsync(x, runs, id, body => Run(x, id, body), StatusCodes.Status201Created)),
            ["evals", var id, "runs"] when call.Get => StoredApi.WithParent(x, evals, id, _ => ListRunsAsync(x, id)),
            ["evals", var id, "runs", var runId] when call.Get => StoredApi.GetAsync(x, runs, runId, id),
            ["evals", var id, "runs", var runId] when call.Post => StoredApi.ChangeAsync(x, runs, runId, id, node => node["status"] = "canceled"),
            ["evals", var id, "runs", var runId] when call.Delete => StoredApi.DeleteAsync(x, runs, runId, id),
            ["evals", var id, "runs", var runId, "output_items"] when call.Get =>
                StoredApi.WithParent(x, runs, runId, _ => StoredApi.ListAsync(x, Families.EvalOutputItems, runId), id),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var eval = StoredApi.NewObject(x, Families.Evals);
        eval["name"] = JsonRead.String(body, "name") ?? string.Empty;
        eval["data_source_config"] = StoredApi.Field(body, "data_source_config", new JsonObject { ["type"] = "custom", ["schema"] = new JsonObject() });
        eval["testing_criteria"] = StoredApi.Field(body, "testing_criteria", new JsonArray());
        eval["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        return eval;
    }

    private static JsonObject Run(FakeExchange x, string evalId, JsonElement body)
    {
        var run = StoredApi.NewObject(x, Families.EvalRuns);
        run["eval_id"] = evalId;
        run["name"] = JsonRead.String(body, "name") ?? string.Empty;
        run["status"] = "queued";
        run["model"] = null;
        run["data_source"] = StoredApi.Field(body, "data_source");
        run["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        run["result_counts"] = new JsonObject { ["total"] = 0, ["errored"] = 0, ["failed"] = 0, ["passed"] = 0 };
        run["per_model_usage"] = new JsonArray();
        run["per_testing_criteria_results"] = new JsonArray();
        run["report_url"] = $"https://platform.openai.com/evaluations/{evalId}?run_id={run["id"]}";
        run["error"] = null;
        return run;
    }

    private static Task ListRunsAsync(FakeExchange x, string evalId)
    {
        var status = x.Request.Query["status"].ToString();
        return StoredApi.ListAsync(x, Families.EvalRuns, evalId, status.Length == 0 ? null : r => r.Field<string>("status") == status);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;

namespace FakeOpenAi.Stored.Routes;

/// <summary><c>/v1/assistants</c> (beta): create (needs <c>model</c>), list, get, update, delete.</summary>
internal static class AssistantRoutes
{
    private static readonly string[] s_fields = ["model", "name", "description", "instructions", "tools", "tool_resources", "metadata", "temperature", "top_p", "response_format", "reasoning_effort"];

    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var assistants = Families.Assistants;
        return call.Path switch
        {
            ["assistants"] when call.Post => StoredApi.CreateAsync(x, assistants, string.Empty, body => Create(x, body), StatusCodes.Status200OK, "model"),
            ["assistants"] when call.Get => StoredApi.ListAsync(x, assistants),
            ["assistants", var id] when call.Get => StoredApi.GetAsync(x, assistants, id),
            ["assistants", var id] when call.Post => StoredApi.UpdateAsync(x, assistants, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, s_fields)),
            ["assistants", var id] when call.Delete => StoredApi.DeleteAsync(x, assistants, id),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var assistant = StoredApi.NewObject(x, Families.Assistants);
        assistant["name"] = null;
        assistant["description"] = null;
        assistant["instructions"] = null;
        assistant["tools"] = new JsonArray();
        assistant["tool_resources"] = new JsonObject();
        assistant["metadata"] = new JsonObject();
        assistant["temperature"] = 1.0;
        assistant["top_p"] = 1.0;
        assistant["response_format"] = "auto";
        StoredApi.CopySet(body, assistant, s_fields);
        return assistant;
    }
}

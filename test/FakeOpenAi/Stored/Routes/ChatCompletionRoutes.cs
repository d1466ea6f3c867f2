using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// Stored chat completions (<c>"store": true</c>): list (<c>model</c>, <c>metadata[k]=v</c> filters, oldest first as
/// OpenAI defaults), get, update <c>metadata</c>, delete, and <c>/messages</c> (the request's messages).
/// </summary>
internal static class ChatCompletionRoutes
{
    private const string MetadataPrefix = "metadata[";

    public static void Keep(FakeExchange x, JsonElement request, ReadOnlyMemory<byte> body)
    {
        var stored = x.State.Stored.Put(Families.ChatCompletions, body);
        var metadata = StoredApi.Field(request, "metadata", new JsonObject());
        stored.Update(node => node["metadata"] = metadata);
        var id = stored.Field<string>("id")!;
        if (request.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var message in messages.EnumerateArray())
            {
                var node = new JsonObject
                {
                    ["id"] = $"{id}-{index++}",
                    ["role"] = message.TryGetProperty("role", out var role) ? role.GetString() : "user",
                    ["content"] = StoredApi.Field(message, "content"),
                    ["name"] = StoredApi.Field(message, "name"),
                    ["content_parts"] = null,
                };
                x.State.Stored.Put(Families.ChatMessages, id, node);
            }
        }
    }

    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        return call.Path switch
        {
            ["chat", "completions"] when call.Get => StoredApi.ListAsync(x, Families.ChatCompletions, where: Filter(x.Request.Query)),
            ["chat", "completions", var id] when call.Get => StoredApi.GetAsync(x, Families.ChatCompletions, id),
            ["chat", "completions", var id] when call.Post => StoredApi.UpdateAsync(x, Families.ChatCompletions, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, "metadata")),
            ["chat", "completions", var id] when call.Delete => StoredApi.DeleteAsync(x, Families.ChatCompletions, id),
            ["chat", "completions", var id, "messages"] when call.Get =>
                StoredApi.WithParent(x, Families.ChatCompletions, id, _ => StoredApi.ListAsync(x, Families.ChatMessages, id)),
            _ => null,
        };
    }

    private static Func<StoredObject, bool>? Filter(IQueryCollection query)
    {
        var model = query["model"].ToString();
        var metadata = query.Where(q => q.Key.StartsWith(MetadataPrefix, StringComparison.Ordinal) && q.Key.EndsWith(']'))
            .Select(q => (Key: q.Key[MetadataPrefix.Length..^1], Value: q.Value.ToString()))
            .ToList();
        if (model.Length == 0 && metadata.Count == 0)
        {
            return null;
        }

        return stored =>
        {
            var json = JsonNode.Parse(stored.Snapshot())!;
            return (model.Length == 0 || json["model"]?.GetValue<string>() == model)
                && metadata.All(m => json["metadata"]?[m.Key] is JsonValue v && v.TryGetValue<string>(out var s) && s == m.Value);
        };
    }
}

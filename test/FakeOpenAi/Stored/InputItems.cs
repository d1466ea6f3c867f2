using System.Text.Json;
using System.Text.Json.Nodes;

namespace FakeOpenAi.Stored;

/// <summary>
/// Conversation and response input items as OpenAI stores them: a string input becomes one user message, a message's
/// string content becomes <c>input_text</c> (or <c>output_text</c> for the assistant) parts, and every item gets an id.
/// </summary>
internal static class InputItems
{
    public static List<JsonObject> From(JsonElement input, ObjectFamily family)
    {
        var items = new List<JsonObject>();
        if (input.ValueKind == JsonValueKind.String)
        {
            items.Add(Message(family, "user", input));
        }
        else if (input.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in input.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object))
            {
                var type = element.TryGetProperty("type", out var t) ? t.GetString() : "message";
                if (type == "message" && element.TryGetProperty("role", out var role))
                {
                    items.Add(Message(family, role.GetString() ?? "user", element.TryGetProperty("content", out var content) ? content : default));
                    continue;
                }

                var item = (JsonObject)JsonNode.Parse(element.GetRawText())!;
                item["id"] ??= (type ?? "item") + "_" + family.NewId()[family.IdPrefix.Length..];
                items.Add(item);
            }
        }

        return items;
    }

    public static void Store(StoredObjects store, ObjectFamily family, string scope, IEnumerable<JsonObject> items)
    {
        foreach (var item in items)
        {
            store.Put(family, scope, item);
        }
    }

    private static JsonObject Message(ObjectFamily family, string role, JsonElement content)
    {
        var partType = role == "assistant" ? "output_text" : "input_text";
        JsonNode parts = content.ValueKind switch
        {
            JsonValueKind.String => new JsonArray(new JsonObject { ["type"] = partType, ["text"] = content.GetString() }),
            JsonValueKind.Array => JsonNode.Parse(content.GetRawText())!,
            _ => new JsonArray(),
        };
        return new JsonObject
        {
            ["type"] = "message",
            ["id"] = family.NewId(),
            ["status"] = "completed",
            ["role"] = role,
            ["content"] = parts,
        };
    }
}

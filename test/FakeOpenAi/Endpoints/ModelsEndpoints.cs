using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>.</summary>
internal static class ModelsEndpoints
{
    private static readonly (string Id, long Created, string OwnedBy)[] Models =
    [
        ("gpt-4o-mini", 1721172741, "system"),
        ("gpt-4o", 1715367049, "system"),
        ("gpt-4.1", 1744316542, "system"),
        ("gpt-5", 1754425777, "system"),
        ("gpt-3.5-turbo-instruct", 1692901427, "system"),
        ("text-embedding-3-small", 1705948997, "system"),
        ("text-embedding-3-large", 1705953180, "system"),
        ("whisper-1", 1677532384, "openai-internal"),
        ("gpt-4o-transcribe", 1742068463, "system"),
        ("tts-1", 1681940951, "openai-internal"),
        ("gpt-4o-mini-tts", 1742403959, "system"),
        ("gpt-image-1", 1745517030, "system"),
        ("gpt-realtime", 1756271701, "system"),
    ];

    public static Task ListAsync(FakeExchange x)
    {
        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var model in Models)
        {
            WriteModel(writer, model);
        }

        foreach (var (id, created) in x.State.FineTunedModels)
        {
            WriteModel(writer, (id, created, "org-fake"));
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        return x.WriteJsonAsync();
    }

    public static Task GetAsync(FakeExchange x, string id)
    {
        foreach (var model in Models)
        {
            if (model.Id == id)
            {
                var writer = x.Json.Start();
                WriteModel(writer, model);
                return x.WriteJsonAsync();
            }
        }

        return OpenAiErrors.ModelNotFoundAsync(x.Context, id);
    }

    private static void WriteModel(Utf8JsonWriter writer, (string Id, long Created, string OwnedBy) model)
    {
        writer.WriteStartObject();
        writer.WriteString("id", model.Id);
        writer.WriteString("object", "model");
        writer.WriteNumber("created", model.Created);
        writer.WriteString("owned_by", model.OwnedBy);
        writer.WriteEndObject();
    }
}

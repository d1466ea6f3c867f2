using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored;

/// <summary>
/// The CRUD every family shares: a new object's envelope, get, list (OpenAI's list body), update, delete and the
/// family's 404. Family routes only say what their objects contain.
/// </summary>
internal static class StoredApi
{
    /// <summary><c>{"id", "object", "created_at"}</c>, the start of every stored object.</summary>
    public static JsonObject NewObject(FakeExchange x, ObjectFamily family, string? id = null) => new()
    {
        ["id"] = id ?? family.NewId(),
        ["object"] = family.ObjectType,
        ["created_at"] = x.State.UnixNow,
    };

    /// <summary>
    /// The request's body as JSON: an empty body reads as <c>{}</c> (SDKs send none for some creates), and a multipart
    /// form as its text fields plus, for each file part, <c>{"filename","bytes","sha256"}</c> under the part's name
    /// (container files and videos accept either form).
    /// </summary>
    public static async Task<JsonDocument?> ReadBodyAsync(FakeExchange x)
    {
        if (await MultipartForm.ReadAsync(x.Request, x.Aborted) is { } form)
        {
            var fields = new JsonObject();
            foreach (var (name, value) in form.Fields)
            {
                fields[name] = value;
            }

            foreach (var file in form.Files)
            {
                fields[file.Name] = new JsonObject { ["filename"] = file.FileName, ["bytes"] = file.Length, ["sha256"] = file.Sha256 };
            }

            return JsonDocument.Parse(fields.ToJsonString());
        }

        using var buffer = new MemoryStream();
        await x.Request.Body.CopyToAsync(buffer, x.Aborted);
        if (buffer.Length == 0)
        {
            return JsonDocument.Parse("{}");
        }

        try
        {
            var document = JsonDocument.Parse(buffer.ToArray());
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
        }
        catch (JsonException)
        {
        }

        await OpenAiErrors.InvalidJsonAsync(x.Context);
        return null;
    }

    /// <summary>Serves <see cref="FakeContent"/> bytes: <c>x-fake-size</c> long if set, else <paramref name="bytes"/>.</summary>
    public static async Task ContentAsync(FakeExchange x, long bytes, string contentType)
    {
        var size = x.Plan.ResponseSize ?? bytes;
        x.Response.ContentType = contentType;
        x.Response.ContentLength = size;
        await BinaryBody.WriteAsync(x.Context, x.CreateChunkPacer(), size);
    }

    /// <summary>A copy of a request field (detached from its document), or <paramref name="fallback"/> when absent or null.</summary>
    public static JsonNode? Field(JsonElement body, string name, JsonNode? fallback = null) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? JsonNode.Parse(value.GetRawText())
            : fallback;

    /// <summary>Copies each named field that the request sets onto the object (an update's semantics).</summary>
    public static void CopySet(JsonElement body, JsonObject target, params string[] names)
    {
        foreach (var name in names)
        {
            if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value))
            {
                target[name] = JsonNode.Parse(value.GetRawText());
            }
        }
    }

    /// <summary>Reads the body, answers OpenAI's 400 for the first missing <paramref name="required"/> field, else stores and returns what <paramref name="build"/> makes.</summary>
    public static async Task CreateAsync(
        FakeExchange x,
        ObjectFamily family,
        string scope,
        Func<JsonElement, JsonObject> build,
        int status = StatusCodes.Status200OK,
        params string[] required)
    {
        using var body = await ReadBodyAsync(x);
        if (body is null)
        {
            return;
        }

        if (required.FirstOrDefault(name => !body.RootElement.TryGetProperty(name, out _)) is { } missing)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, missing);
            return;
        }

        var node = build(body.RootElement);
        x.State.Stored.Put(family, scope, node);
        await WriteAsync(x, node.ToJsonString(), status);
    }

    public static Task GetAsync(FakeExchange x, ObjectFamily family, string id, string scope = "") =>
        x.State.Stored.Get(family, id, scope) is { } stored ? WriteAsync(x, stored.Read()) : NotFoundAsync(x, family, id);

    public static Task ListAsync(FakeExchange x, ObjectFamily family, string scope = "", Func<StoredObject, bool>? where = null)
    {
        var page = x.State.Stored.Of(family).List(scope, ListQuery.From(x.Request, family), where);
        WriteList(x.Json.Start(), page, s => s.Field<string>("id")!, (w, s) => s.WriteTo(w));
        return x.WriteJsonAsync();
    }

    public static async Task UpdateAsync(FakeExchange x, ObjectFamily family, string id, string scope, Action<JsonElement, JsonObject> change)
    {
        if (x.State.Stored.Get(family, id, scope) is not { } stored)
        {
            await NotFoundAsync(x, family, id);
            return;
        }

        using var body = await ReadBodyAsync(x);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        await WriteAsync(x, stored.Update(node => change(root, node)));
    }

    /// <summary>Applies a change with no request body (cancel, pause) to a stored object.</summary>
    public static Task ChangeAsync(FakeExchange x, ObjectFamily family, string id, string scope, Action<JsonObject> change) =>
        x.State.Stored.Get(family, id, scope) is { } stored ? WriteAsync(x, stored.Update(change)) : NotFoundAsync(x, family, id);

    public static Task DeleteAsync(FakeExchange x, ObjectFamily family, string id, string scope = "")
    {
        if (x.State.Stored.Of(family).Remove(scope, id) is null)
        {
            return NotFoundAsync(x, family, id);
        }

        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString(family.DeletedIdField, id);
        writer.WriteString("object", family.DeletedObject);
        writer.WriteBoolean("deleted", true);
        writer.WriteEndObject();
        return x.WriteJsonAsync();
    }

    public static Task NotFoundAsync(FakeExchange x, ObjectFamily family, string id) =>
        OpenAiErrors.WriteAsync(x.Context, StatusCodes.Status404NotFound, family.NotFound(id), "invalid_request_error", family.NotFoundParam, null);

    /// <summary>Runs <paramref name="then"/> when the parent exists, else answers the parent family's 404.</summary>
    public static Task WithParent(FakeExchange x, ObjectFamily family, string id, Func<StoredObject, Task> then, string scope = "") =>
        x.State.Stored.Get(family, id, scope) is { } parent ? then(parent) : NotFoundAsync(x, family, id);

    /// <summary>OpenAI's list body: <c>{"object":"list","data":[…],"first_id","last_id","has_more"}</c>.</summary>
    public static void WriteList<T>(Utf8JsonWriter writer, ListPage<T> page, Func<T, string> id, Action<Utf8JsonWriter, T> write)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var item in page.Data)
        {
            write(writer, item);
        }

        writer.WriteEndArray();
        if (page.Data.Count > 0)
        {
            writer.WriteString("first_id", id(page.Data[0]));
            writer.WriteString("last_id", id(page.Data[^1]));
        }
        else
        {
            writer.WriteNull("first_id");
            writer.WriteNull("last_id");
        }

        writer.WriteBoolean("has_more", page.HasMore);
        writer.WriteEndObject();
    }

    public static Task WriteAsync(FakeExchange x, string json, int status = StatusCodes.Status200OK)
    {
        var writer = x.Json.Start();
        writer.WriteRawValue(Encoding.UTF8.GetBytes(json), skipInputValidation: true);
        return x.WriteJsonAsync(status);
    }
}

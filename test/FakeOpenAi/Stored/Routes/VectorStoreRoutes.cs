using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/vector_stores</c>: CRUD and list; <c>/files</c> (a vector store file's id is the file's id; any file id is
/// accepted, sized from the file store when it is there); <c>/file_batches</c> (create, get, cancel, list its files);
/// <c>/search</c> (one result per file). Everything is <c>completed</c> at once: indexing is not what is under test.
/// </summary>
internal static class VectorStoreRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var stores = Families.VectorStores;
        return call.Path switch
        {
            ["vector_stores"] when call.Post => StoredApi.CreateAsync(x, stores, string.Empty, body => Create(x, body)),
            ["vector_stores"] when call.Get => StoredApi.ListAsync(x, stores),
            ["vector_stores", var id] when call.Get => StoredApi.GetAsync(x, stores, id),
            ["vector_stores", var id] when call.Post => StoredApi.UpdateAsync(x, stores, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, "name", "metadata", "expires_after")),
            ["vector_stores", var id] when call.Delete => StoredApi.DeleteAsync(x, stores, id),
            ["vector_stores", var id, "search"] when call.Post => StoredApi.WithParent(x, stores, id, _ => SearchAsync(x, id)),
            ["vector_stores", var id, "files"] when call.Post =>
                StoredApi.WithParent(x, stores, id, _ => StoredApi.CreateAsync(x, Families.VectorStoreFiles, id, body => File(x, id, body), StatusCodes.Status200OK, "file_id")),
            ["vector_stores", var id, "files"] when call.Get => StoredApi.WithParent(x, stores, id, _ => ListFilesAsync(x, id)),
            ["vector_stores", var id, "files", var fileId] when call.Get => StoredApi.GetAsync(x, Families.VectorStoreFiles, fileId, id),
            ["vector_stores", var id, "files", var fileId] when call.Post =>
                StoredApi.UpdateAsync(x, Families.VectorStoreFiles, fileId, id, (body, node) => StoredApi.CopySet(body, node, "attributes")),
            ["vector_stores", var id, "files", var fileId] when call.Delete => StoredApi.DeleteAsync(x, Families.VectorStoreFiles, fileId, id),
            ["vector_stores", var id, "file_batches"] when call.Post =>
                StoredApi.WithParent(x, stores, id, _ => StoredApi.CreateAsync(x, Families.VectorStoreFileBatches, id, body => Batch(x, id, body))),
            ["vector_stores", var id, "file_batches", var batchId] when call.Get => StoredApi.GetAsync(x, Families.VectorStoreFileBatches, batchId, id),
            ["vector_stores", var id, "file_batches", var batchId, "cancel"] when call.Post =>
                StoredApi.ChangeAsync(x, Families.VectorStoreFileBatches, batchId, id, node => node["status"] = "cancelled"),
            ["vector_stores", var id, "file_batches", var batchId, "files"] when call.Get =>
                StoredApi.WithParent(x, Families.VectorStoreFileBatches, batchId, _ => ListFilesAsync(x, batchId), id),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var store = StoredApi.NewObject(x, Families.VectorStores);
        var id = store["id"]!.GetValue<string>();
        var files = FileIds(body).Select(fileId => Keep(x, id, File(x, id, fileId))).ToList();
        store["name"] = StoredApi.Field(body, "name");
        store["usage_bytes"] = files.Sum(f => f["usage_bytes"]!.GetValue<long>());
        store["file_counts"] = Counts(files.Count, "completed");
        store["status"] = "completed";
        store["expires_after"] = StoredApi.Field(body, "expires_after");
        store["expires_at"] = null;
        store["last_active_at"] = x.State.UnixNow;
        store["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        return store;
    }

    private static JsonObject Batch(FakeExchange x, string storeId, JsonElement body)
    {
        var batch = StoredApi.NewObject(x, Families.VectorStoreFileBatches);
        var batchId = batch["id"]!.GetValue<string>();
        var count = 0;
        foreach (var fileId in FileIds(body))
        {
            // The batch's files live in the store and, as copies, under the batch for its /files list.
            var file = Keep(x, storeId, File(x, storeId, fileId));
            x.State.Stored.Put(Families.VectorStoreFiles, batchId, (JsonObject)file.DeepClone());
            count++;
        }

        batch["vector_store_id"] = storeId;
        batch["status"] = "completed";
        batch["file_counts"] = Counts(count, "completed");
        return batch;
    }

    private static JsonObject File(FakeExchange x, string storeId, JsonElement body)
    {
        var file = File(x, storeId, JsonRead.String(body, "file_id") ?? string.Empty);
        file["attributes"] = StoredApi.Field(body, "attributes", new JsonObject());
        return file;
    }

    private static JsonObject File(FakeExchange x, string storeId, string fileId)
    {
        var file = StoredApi.NewObject(x, Families.VectorStoreFiles, fileId);
        file["usage_bytes"] = x.State.Files.Get(fileId)?.Bytes ?? FileStore.SizeFromId(fileId) ?? 0;
        file["vector_store_id"] = storeId;
        file["status"] = "completed";
        file["last_error"] = null;
        file["chunking_strategy"] = new JsonObject
        {
            ["type"] = "static",
            ["static"] = new JsonObject { ["max_chunk_size_tokens"] = 800, ["chunk_overlap_tokens"] = 400 },
        };
        file["attributes"] = new JsonObject();
        return file;
    }

    private static JsonObject Keep(FakeExchange x, string scope, JsonObject file)
    {
        x.State.Stored.Put(Families.VectorStoreFiles, scope, file);
        return file;
    }

    private static IEnumerable<string> FileIds(JsonElement body)
    {
        if (body.TryGetProperty("file_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
        {
            foreach (var id in ids.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String))
            {
                yield return id.GetString()!;
            }
        }

        if (body.TryGetProperty("files", out var files) && files.ValueKind == JsonValueKind.Array)
        {
            foreach (var file in files.EnumerateArray())
            {
                if (JsonRead.String(file, "file_id") is { } id)
                {
                    yield return id;
                }
            }
        }
    }

    private static JsonObject Counts(int total, string status) => new()
    {
        ["in_progress"] = status == "in_progress" ? total : 0,
        ["completed"] = status == "completed" ? total : 0,
        ["failed"] = 0,
        ["cancelled"] = 0,
        ["total"] = total,
    };

    private static Task ListFilesAsync(FakeExchange x, string scope)
    {
        var status = x.Request.Query["filter"].ToString();
        return StoredApi.ListAsync(x, Families.VectorStoreFiles, scope, status.Length == 0 ? null : f => f.Field<string>("status") == status);
    }

    private static async Task SearchAsync(FakeExchange x, string storeId)
    {
        using var body = await StoredApi.ReadBodyAsync(x);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        var max = JsonRead.Int(root, "max_num_results") ?? 10;
        var query = JsonRead.Text(root.TryGetProperty("query", out var q) ? q : default);
        var files = x.State.Stored.Of(Families.VectorStoreFiles).All(storeId).Take(Math.Clamp(max, 1, 50)).ToList();
        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString("object", "vector_store.search_results.page");
        writer.WriteStartArray("search_query");
        writer.WriteStringValue(query);
        writer.WriteEndArray();
        writer.WriteStartArray("data");
        foreach (var file in files)
        {
            var fileId = file.Field<string>("id")!;
            writer.WriteStartObject();
            writer.WriteString("file_id", fileId);
            writer.WriteString("filename", x.State.Files.Get(fileId)?.FileName ?? fileId + ".txt");
            writer.WriteNumber("score", 0.5);
            writer.WriteStartObject("attributes");
            writer.WriteEndObject();
            writer.WriteStartArray("content");
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", $"A passage of {fileId} that matches '{query}'.");
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteBoolean("has_more", false);
        writer.WriteNull("next_page");
        writer.WriteEndObject();
        await x.WriteJsonAsync();
    }
}

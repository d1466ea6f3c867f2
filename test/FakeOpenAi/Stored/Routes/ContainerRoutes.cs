using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/containers</c>: create (<c>file_ids</c> become container files), list, get, delete; <c>/files</c>: create
/// from a multipart <c>file</c> or a JSON <c>file_id</c> (sized from the file store), list, get, delete, and
/// <c>/content</c>, which serves <see cref="FakeContent"/> bytes of the file's size.
/// </summary>
internal static class ContainerRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var containers = Families.Containers;
        var files = Families.ContainerFiles;
        return call.Path switch
        {
            ["containers"] when call.Post => StoredApi.CreateAsync(x, containers, string.Empty, body => Create(x, body), StatusCodes.Status200OK, "name"),
            ["containers"] when call.Get => StoredApi.ListAsync(x, containers),
            ["containers", var id] when call.Get => StoredApi.GetAsync(x, containers, id),
            ["containers", var id] when call.Delete => StoredApi.DeleteAsync(x, containers, id),
            ["containers", var id, "files"] when call.Post =>
                StoredApi.WithParent(x, containers, id, _ => StoredApi.CreateAsync(x, files, id, body => File(x, id, body))),
            ["containers", var id, "files"] when call.Get => StoredApi.WithParent(x, containers, id, _ => StoredApi.ListAsync(x, files, id)),
            ["containers", var id, "files", var fileId] when call.Get => StoredApi.GetAsync(x, files, fileId, id),
            ["containers", var id, "files", var fileId] when call.Delete => StoredApi.DeleteAsync(x, files, fileId, id),
            ["containers", var id, "files", var fileId, "content"] when call.Get => x.State.Stored.Get(files, fileId, id) is { } file
                ? StoredApi.ContentAsync(x, file.Field<long>("bytes"), "application/octet-stream")
                : StoredApi.NotFoundAsync(x, files, fileId),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var container = StoredApi.NewObject(x, Families.Containers);
        var id = container["id"]!.GetValue<string>();
        container["status"] = "running";
        container["expires_after"] = StoredApi.Field(body, "expires_after", new JsonObject { ["anchor"] = "last_active_at", ["minutes"] = 20 });
        container["last_active_at"] = x.State.UnixNow;
        container["name"] = JsonRead.String(body, "name");
        if (body.TryGetProperty("file_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
        {
            foreach (var fileId in ids.EnumerateArray().Select(i => i.GetString()).OfType<string>())
            {
                x.State.Stored.Put(Families.ContainerFiles, id, FromStoredFile(x, id, fileId));
            }
        }

        return container;
    }

    private static JsonObject File(FakeExchange x, string containerId, JsonElement body)
    {
        if (JsonRead.String(body, "file_id") is { } fileId)
        {
            return FromStoredFile(x, containerId, fileId);
        }

        var upload = JsonRead.Object(body, "file");
        var name = upload is { } u ? JsonRead.String(u, "filename") : null;
        var bytes = upload is { } v && v.TryGetProperty("bytes", out var b) && b.TryGetInt64(out var n) ? n : 0;
        return Describe(x, containerId, name ?? "file", bytes, "user");
    }

    private static JsonObject FromStoredFile(FakeExchange x, string containerId, string fileId)
    {
        var stored = x.State.Files.Get(fileId);
        return Describe(x, containerId, stored?.FileName ?? fileId, stored?.Bytes ?? FileStore.SizeFromId(fileId) ?? 0, "user");
    }

    private static JsonObject Describe(FakeExchange x, string containerId, string fileName, long bytes, string source)
    {
        var file = StoredApi.NewObject(x, Families.ContainerFiles);
        file["bytes"] = bytes;
        file["container_id"] = containerId;
        file["path"] = "/mnt/data/" + fileName;
        file["source"] = source;
        return file;
    }
}

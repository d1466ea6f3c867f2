using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/uploads</c>: create a pending Upload, add multipart <c>data</c> parts (size and hash kept, not bytes),
/// complete it into a stored file (its bytes must add up to the Upload's), or cancel it.
/// </summary>
internal static class UploadRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        return call.Path switch
        {
            ["uploads"] when call.Post => StoredApi.CreateAsync(x, Families.Uploads, string.Empty, body => Create(x, body), StatusCodes.Status200OK, "filename", "purpose", "bytes", "mime_type"),
            ["uploads", var id, "parts"] when call.Post => StoredApi.WithParent(x, Families.Uploads, id, upload => AddPartAsync(x, upload)),
            ["uploads", var id, "complete"] when call.Post => StoredApi.WithParent(x, Families.Uploads, id, upload => CompleteAsync(x, upload)),
            ["uploads", var id, "cancel"] when call.Post => StoredApi.WithParent(x, Families.Uploads, id, upload => CancelAsync(x, upload)),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var upload = StoredApi.NewObject(x, Families.Uploads);
        upload["bytes"] = body.GetProperty("bytes").TryGetInt64(out var bytes) ? bytes : 0;
        upload["filename"] = JsonRead.String(body, "filename");
        upload["purpose"] = JsonRead.String(body, "purpose");
        upload["status"] = "pending";
        upload["expires_at"] = x.State.UnixNow + 3600;
        upload["file"] = null;
        return upload;
    }

    private static async Task AddPartAsync(FakeExchange x, StoredObject upload)
    {
        if (await NotPendingAsync(x, upload))
        {
            return;
        }

        var form = await MultipartForm.ReadAsync(x.Request, x.Aborted);
        if (form?.File("data") is not { } data)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "data");
            return;
        }

        var uploadId = upload.Field<string>("id")!;
        var part = new UploadPart(Families.UploadParts.NewId(), uploadId, x.State.UnixNow, data.Length, data.Sha256);
        x.State.UploadParts.Add(uploadId, part.Id, part.CreatedAt, part);
        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString("id", part.Id);
        writer.WriteString("object", Families.UploadParts.ObjectType);
        writer.WriteNumber("created_at", part.CreatedAt);
        writer.WriteString("upload_id", uploadId);
        writer.WriteEndObject();
        await x.WriteJsonAsync();
    }

    private static async Task CompleteAsync(FakeExchange x, StoredObject upload)
    {
        using var body = await StoredApi.ReadBodyAsync(x);
        if (body is null || await NotPendingAsync(x, upload))
        {
            return;
        }

        var uploadId = upload.Field<string>("id")!;
        var parts = new List<UploadPart>();
        if (body.RootElement.TryGetProperty("part_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
        {
            foreach (var id in ids.EnumerateArray())
            {
                if (x.State.UploadParts.Get(uploadId, id.GetString() ?? string.Empty) is not { } part)
                {
                    await OpenAiErrors.WriteAsync(x.Context, StatusCodes.Status400BadRequest, $"Part {id.GetString()} not found for upload {uploadId}.", "invalid_request_error", "part_ids", null);
                    return;
                }

                parts.Add(part);
            }
        }

        var total = parts.Sum(p => p.Bytes);
        var declared = upload.Field<long>("bytes");
        if (total != declared)
        {
            await OpenAiErrors.WriteAsync(
                x.Context,
                StatusCodes.Status400BadRequest,
                $"The number of bytes uploaded ({total}) does not match the number of bytes expected ({declared}).",
                "invalid_request_error",
                null,
                null);
            return;
        }

        // The hash of the whole file is known only when it came in one part: the fake never holds the bytes.
        var file = new UploadedFile(Families.Files.NewId(), upload.Field<string>("filename")!, upload.Field<string>("purpose")!, total, parts.Count == 1 ? parts[0].Sha256 : string.Empty, x.State.Time.GetUtcNow());
        x.State.Files.Add(file);
        using var fileJson = new JsonBuffer();
        FilesEndpoints.WriteFile(fileJson.Start(), file);
        var fileNode = JsonNode.Parse(fileJson.Written.Span);
        await StoredApi.WriteAsync(x, upload.Update(node =>
        {
            node["status"] = "completed";
            node["file"] = fileNode;
        }));
    }

    private static async Task CancelAsync(FakeExchange x, StoredObject upload)
    {
        if (!await NotPendingAsync(x, upload))
        {
            await StoredApi.WriteAsync(x, upload.Update(node => node["status"] = "cancelled"));
        }
    }

    private static async Task<bool> NotPendingAsync(FakeExchange x, StoredObject upload)
    {
        var status = upload.Field<string>("status");
        if (status == "pending")
        {
            return false;
        }

        await OpenAiErrors.WriteAsync(x.Context, StatusCodes.Status400BadRequest, $"Upload {upload.Field<string>("id")} is already {status}.", "invalid_request_error", null, null);
        return true;
    }
}

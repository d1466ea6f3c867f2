using System.Text.Json;
using FakeOpenAi.Stored;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// <c>/v1/files</c>: multipart upload (streamed, hashed, not stored), list (paginated, <c>purpose</c>), get, delete, and <c>/content</c>, which
/// serves <see cref="FakeContent"/> bytes of a length taken from <c>x-fake-size</c>, a <c>file-size-N</c> id, or the
/// uploaded file's size, in that order.
/// </summary>
internal static class FilesEndpoints
{
    public static async Task UploadAsync(FakeExchange x)
    {
        var form = await MultipartForm.ReadAsync(x.Request, x.Aborted);
        if (form is null)
        {
            await OpenAiErrors.WriteAsync(
                x.Context,
                StatusCodes.Status415UnsupportedMediaType,
                "Invalid Content-Type header, expected multipart/form-data.",
                "invalid_request_error",
                null,
                null);
            return;
        }

        if (form.File("file") is not { } part)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "file");
            return;
        }

        if (!form.Fields.TryGetValue("purpose", out var purpose))
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "purpose");
            return;
        }

        var file = new UploadedFile("file-" + Ids.Alphanumeric(22), part.FileName, purpose, part.Length, part.Sha256, x.State.Time.GetUtcNow());
        x.State.Files.Add(file);
        WriteFile(x.Json.Start(), file);
        await x.WriteJsonAsync();
    }

    public static Task ListAsync(FakeExchange x)
    {
        var purpose = x.Request.Query["purpose"].ToString();
        var page = x.State.Files.List(ListQuery.From(x.Request, Families.Files), purpose.Length > 0 ? purpose : null);
        StoredApi.WriteList(x.Json.Start(), page, f => f.Id, WriteFile);
        return x.WriteJsonAsync();
    }

    public static Task GetAsync(FakeExchange x, string id)
    {
        if (Find(x, id) is not { } file)
        {
            return NoSuchFileAsync(x, id);
        }

        WriteFile(x.Json.Start(), file);
        return x.WriteJsonAsync();
    }

    public static Task DeleteAsync(FakeExchange x, string id)
    {
        if (!x.State.Files.Remove(id) && FileStore.SizeFromId(id) is null)
        {
            return NoSuchFileAsync(x, id);
        }

        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("object", "file");
        writer.WriteBoolean("deleted", true);
        writer.WriteEndObject();
        return x.WriteJsonAsync();
    }

    public static async Task ContentAsync(FakeExchange x, string id)
    {
        var length = x.Plan.ResponseSize ?? FileStore.SizeFromId(id) ?? x.State.Files.Get(id)?.Bytes;
        if (length is not { } size)
        {
            await NoSuchFileAsync(x, id);
            return;
        }

        x.Response.ContentType = "application/octet-stream";
        x.Response.ContentLength = size;
        await BinaryBody.WriteAsync(x.Context, x.CreateChunkPacer(), size);
    }

    private static UploadedFile? Find(FakeExchange x, string id) =>
        x.State.Files.Get(id)
        ?? (FileStore.SizeFromId(id) is { } size
            ? new UploadedFile(id, id + ".bin", "user_data", size, string.Empty, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000))
            : null);

    public static Task NoSuchFileAsync(FakeExchange x, string id) =>
        OpenAiErrors.WriteAsync(x.Context, StatusCodes.Status404NotFound, $"No such File object: {id}", "invalid_request_error", "id", null);

    public static void WriteFile(Utf8JsonWriter writer, UploadedFile file)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "file");
        writer.WriteString("id", file.Id);
        writer.WriteString("purpose", file.Purpose);
        writer.WriteString("filename", file.FileName);
        writer.WriteNumber("bytes", file.Bytes);
        writer.WriteNumber("created_at", file.CreatedAt.ToUnixTimeSeconds());
        writer.WriteNull("expires_at");
        writer.WriteString("status", "processed");
        writer.WriteNull("status_details");
        writer.WriteEndObject();
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/videos</c>: create (JSON or multipart; needs <c>prompt</c>; the video is <c>completed</c> at once), remix,
/// list, get, delete, and <c>/content</c> (<c>video/mp4</c>, or the <c>thumbnail</c>/<c>spritesheet</c> variant's
/// image type) of <see cref="FakeContent"/> bytes, <c>x-fake-size</c> long if set.
/// </summary>
internal static class VideoRoutes
{
    private const long ContentBytes = 4096;

    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var videos = Families.Videos;
        return call.Path switch
        {
            ["videos"] when call.Post => StoredApi.CreateAsync(x, videos, string.Empty, body => Create(x, body, null), StatusCodes.Status200OK, "prompt"),
            ["videos"] when call.Get => StoredApi.ListAsync(x, videos),
            ["videos", var id] when call.Get => StoredApi.GetAsync(x, videos, id),
            ["videos", var id] when call.Delete => StoredApi.DeleteAsync(x, videos, id),
            ["videos", var id, "remix"] when call.Post =>
                StoredApi.WithParent(x, videos, id, _ => StoredApi.CreateAsync(x, videos, string.Empty, body => Create(x, body, id), StatusCodes.Status200OK, "prompt")),
            ["videos", var id, "content"] when call.Get => x.State.Stored.Get(videos, id) is null
                ? StoredApi.NotFoundAsync(x, videos, id)
                : StoredApi.ContentAsync(x, ContentBytes, x.Request.Query["variant"].ToString() switch
                {
                    "thumbnail" => "image/webp",
                    "spritesheet" => "image/jpeg",
                    _ => "video/mp4",
                }),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body, string? remixedFrom)
    {
        var video = StoredApi.NewObject(x, Families.Videos);
        video["status"] = "completed";
        video["completed_at"] = x.State.UnixNow;
        video["expires_at"] = x.State.UnixNow + 86_400;
        video["model"] = JsonRead.String(body, "model") ?? "sora-2";
        video["progress"] = 100;
        video["prompt"] = JsonRead.String(body, "prompt");
        video["seconds"] = JsonRead.String(body, "seconds") ?? "4";
        video["size"] = JsonRead.String(body, "size") ?? "720x1280";
        video["remixed_from_video_id"] = remixedFrom;
        video["error"] = null;
        return video;
    }
}

using FakeOpenAi.Hosting;
using FakeOpenAi.Realtime;
using FakeOpenAi.Wire;
using Microsoft.AspNetCore.Http.Features;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// The terminal middleware: a plain switch over method and path. Hand-routed rather than minimal APIs so the
/// fake starts fast and costs nothing per request when the benchmark uses it as the upstream.
/// </summary>
internal sealed class EndpointRouter(FakeState state)
{
    private const string FilesPrefix = "files/";

    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.Features.GetRequiredFeature<FakeRequestFeature>();
        using var exchange = new FakeExchange(context, state, feature);
        var handler = Route(context.Request.Method, context.Request.Path.Value ?? string.Empty, exchange);
        await (handler ?? OpenAiErrors.InvalidUrlAsync(context));
    }

    private static Task? Route(string method, string path, FakeExchange x)
    {
        if (!path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = path[4..];
        var get = HttpMethods.IsGet(method);
        var post = HttpMethods.IsPost(method);
        switch (rest)
        {
            case "models" when get:
                return ModelsEndpoints.ListAsync(x);
            case "chat/completions" when post:
                return ChatCompletionsEndpoint.HandleAsync(x);
            case "completions" when post:
                return CompletionsEndpoint.HandleAsync(x);
            case "responses" when post:
                return ResponsesEndpoint.HandleAsync(x);
            case "responses" when get && x.Context.WebSockets.IsWebSocketRequest:
                return ResponsesWebSocketEndpoint.HandleAsync(x);
            case "realtime" when get && x.Context.WebSockets.IsWebSocketRequest:
                return RealtimeEndpoint.HandleAsync(x);
            case "embeddings" when post:
                return EmbeddingsEndpoint.HandleAsync(x);
            case "audio/transcriptions" when post:
                return AudioTextEndpoint.HandleAsync(x, translate: false);
            case "audio/translations" when post:
                return AudioTextEndpoint.HandleAsync(x, translate: true);
            case "audio/speech" when post:
                return SpeechEndpoint.HandleAsync(x);
            case "images/generations" when post:
                return ImagesEndpoint.HandleAsync(x);
            case "files" when post:
                return FilesEndpoints.UploadAsync(x);
            case "files" when get:
                return FilesEndpoints.ListAsync(x);
        }

        if (Stored.StoredRouter.Route(method, rest, x) is { } stored)
        {
            return stored;
        }

        if (rest.StartsWith("models/", StringComparison.Ordinal) && get)
        {
            return ModelsEndpoints.GetAsync(x, rest["models/".Length..]);
        }

        if (rest.StartsWith(FilesPrefix, StringComparison.Ordinal))
        {
            var tail = rest[FilesPrefix.Length..];
            var slash = tail.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0 && tail.Length > 0)
            {
                return get ? FilesEndpoints.GetAsync(x, tail)
                    : HttpMethods.IsDelete(method) ? FilesEndpoints.DeleteAsync(x, tail)
                    : null;
            }

            if (get && slash > 0 && tail[(slash + 1)..] == "content")
            {
                return FilesEndpoints.ContentAsync(x, tail[..slash]);
            }
        }

        return null;
    }
}

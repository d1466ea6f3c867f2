using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// <c>POST /v1/audio/speech</c>: a chunked binary body (no Content-Length, like the real endpoint) of
/// <see cref="FakeContent"/> bytes; the size comes from <c>x-fake-size</c> or <see cref="FakeOpenAiOptions.DefaultBinarySize"/>.
/// </summary>
internal static class SpeechEndpoint
{
    public static async Task HandleAsync(FakeExchange x)
    {
        using var document = await x.ReadJsonAsync();
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        if (JsonRead.String(root, "model") is null)
        {
            await OpenAiErrors.MissingModelAsync(x.Context);
            return;
        }

        if (JsonRead.String(root, "input") is null)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "input");
            return;
        }

        x.Response.ContentType = (JsonRead.String(root, "response_format") ?? "mp3") switch
        {
            "opus" => "audio/opus",
            "aac" => "audio/aac",
            "flac" => "audio/flac",
            "wav" => "audio/wav",
            "pcm" => "audio/pcm",
            _ => "audio/mpeg",
        };
        await BinaryBody.WriteAsync(x.Context, x.CreateChunkPacer(), Math.Max(0, x.Plan.ResponseSize ?? x.Options.DefaultBinarySize));
    }
}

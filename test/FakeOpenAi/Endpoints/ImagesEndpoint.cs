using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary><c>POST /v1/images/generations</c>: gpt-image style, <c>b64_json</c> images plus a <c>usage</c> object.</summary>
internal static class ImagesEndpoint
{
    // A valid 1x1 PNG, so clients that decode the image do not choke.
    private const string OnePixelPng = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

    public static async Task HandleAsync(FakeExchange x)
    {
        using var document = await x.ReadJsonAsync();
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        if (JsonRead.String(root, "prompt") is not { } prompt)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "prompt");
            return;
        }

        var count = Math.Clamp(JsonRead.Int(root, "n") ?? 1, 1, 10);
        var inputTokens = Math.Max(1, TokenEstimator.Count(prompt));
        const int OutputTokensPerImage = 272;

        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteNumber("created", x.State.UnixNow);
        writer.WriteString("background", "opaque");
        writer.WriteStartArray("data");
        for (var i = 0; i < count; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("b64_json", OnePixelPng);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteString("output_format", "png");
        writer.WriteString("quality", JsonRead.String(root, "quality") ?? "low");
        writer.WriteString("size", JsonRead.String(root, "size") ?? "1024x1024");
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", inputTokens);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("image_tokens", 0);
        writer.WriteNumber("text_tokens", inputTokens);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", OutputTokensPerImage * count);
        writer.WriteNumber("total_tokens", inputTokens + (OutputTokensPerImage * count));
        writer.WriteEndObject();
        writer.WriteEndObject();
        await x.WriteJsonAsync();
    }
}

using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>Legacy <c>POST /v1/completions</c>: a <c>text_completion</c> object, or data-only SSE ending in <c>[DONE]</c>.</summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(FakeExchange x)
    {
        using var document = await x.ReadJsonAsync();
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        if (JsonRead.String(root, "model") is not { } model)
        {
            await OpenAiErrors.MissingModelAsync(x.Context);
            return;
        }

        var prompt = root.TryGetProperty("prompt", out var promptElement) ? JsonRead.Text(promptElement) : string.Empty;
        var reply = new ChatReply(
            "cmpl-" + Ids.Alphanumeric(29),
            x.State.UnixNow,
            model,
            ReplyText.Pieces(prompt, x.EventCount),
            Math.Max(1, TokenEstimator.Count(prompt)));

        if (!JsonRead.Bool(root, "stream"))
        {
            var writer = x.Json.Start();
            WriteHeader(writer, reply);
            WriteChoice(writer, reply.Text, "stop");
            UsageJson.WriteCompletionTotals(writer, reply.PromptTokens, reply.CompletionTokens);
            writer.WriteEndObject();
            await x.WriteJsonAsync();
            return;
        }

        var includeUsage = JsonRead.Object(root, "stream_options") is { } options && JsonRead.Bool(options, "include_usage");
        var sse = await x.StartSseAsync();
        var json = x.Json;
        var errorAfter = x.Plan.MidStreamError ? (reply.Pieces.Length + 1) / 2 : -1;
        for (var i = 0; i <= reply.Pieces.Length; i++)
        {
            if (i == errorAfter)
            {
                var error = json.Start();
                error.WriteStartObject();
                error.WriteStartObject("error");
                error.WriteString("message", OpenAiErrors.ServerErrorMessage);
                error.WriteString("type", "server_error");
                error.WriteNull("param");
                error.WriteNull("code");
                error.WriteEndObject();
                error.WriteEndObject();
                await sse.WriteDataAsync(json.Written);
                return;
            }

            var last = i == reply.Pieces.Length;
            var writer = json.Start();
            WriteHeader(writer, reply);
            WriteChoice(writer, last ? string.Empty : reply.Pieces[i], last ? "stop" : null);
            if (includeUsage)
            {
                writer.WriteNull("usage");
            }

            writer.WriteEndObject();
            await sse.WriteDataAsync(json.Written);
        }

        if (includeUsage)
        {
            var writer = json.Start();
            WriteHeader(writer, reply);
            writer.WriteStartArray("choices");
            writer.WriteEndArray();
            UsageJson.WriteCompletionTotals(writer, reply.PromptTokens, reply.CompletionTokens);
            writer.WriteEndObject();
            await sse.WriteDataAsync(json.Written);
        }

        await sse.WriteDoneAsync();
    }

    private static void WriteHeader(Utf8JsonWriter writer, ChatReply reply)
    {
        writer.WriteStartObject();
        writer.WriteString("id", reply.Id);
        writer.WriteString("object", "text_completion");
        writer.WriteNumber("created", reply.Created);
        writer.WriteString("model", reply.Model);
        writer.WriteString("system_fingerprint", "fp_fake");
    }

    private static void WriteChoice(Utf8JsonWriter writer, string text, string? finishReason)
    {
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteString("text", text);
        writer.WriteNumber("index", 0);
        writer.WriteNull("logprobs");
        if (finishReason is null)
        {
            writer.WriteNull("finish_reason");
        }
        else
        {
            writer.WriteString("finish_reason", finishReason);
        }

        writer.WriteEndObject();
        writer.WriteEndArray();
    }
}

using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary><c>POST /v1/chat/completions</c>: a <c>chat.completion</c> object, or data-only SSE chunks ending in <c>[DONE]</c> (wire doc §2.1).</summary>
internal static class ChatCompletionsEndpoint
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

        var (lastUserText, promptTokens) = ReadMessages(root);
        var pieces = ReplyText.Pieces(lastUserText, x.EventCount);
        var reply = new ChatReply("chatcmpl-" + Ids.Alphanumeric(29), x.State.UnixNow, model, pieces, promptTokens);

        if (!JsonRead.Bool(root, "stream"))
        {
            if (JsonRead.Bool(root, "store"))
            {
                x.StoreHook = body => Stored.Routes.ChatCompletionRoutes.Keep(x, root, body);
            }

            WriteCompletion(x.Json.Start(), reply);
            await x.WriteJsonAsync();
            return;
        }

        var options = JsonRead.Object(root, "stream_options");
        var includeUsage = options is { } o && JsonRead.Bool(o, "include_usage");
        var includeObfuscation = options is not { } o2 || JsonRead.Bool(o2, "include_obfuscation", fallback: true);
        await StreamAsync(x, reply, includeUsage, includeObfuscation);
    }

    private static async Task StreamAsync(FakeExchange x, ChatReply reply, bool includeUsage, bool includeObfuscation)
    {
        var sse = await x.StartSseAsync();
        var json = x.Json;
        var errorAfter = x.Plan.MidStreamError ? (reply.Pieces.Length + 1) / 2 : -1;

        WriteChunk(json.Start(), reply, includeUsage, includeObfuscation, 0, delta: "", role: true, finishReason: null);
        await sse.WriteDataAsync(json.Written);

        for (var i = 0; i < reply.Pieces.Length; i++)
        {
            if (i == errorAfter)
            {
                await WriteMidStreamErrorAsync(sse, json);
                return;
            }

            WriteChunk(json.Start(), reply, includeUsage, includeObfuscation, i + 1, reply.Pieces[i], role: false, finishReason: null);
            await sse.WriteDataAsync(json.Written);
        }

        if (errorAfter >= 0)
        {
            // Zero or one delta: the error still comes before the finish chunk.
            await WriteMidStreamErrorAsync(sse, json);
            return;
        }

        WriteChunk(json.Start(), reply, includeUsage, includeObfuscation, reply.Pieces.Length + 1, delta: null, role: false, finishReason: "stop");
        await sse.WriteDataAsync(json.Written);

        if (includeUsage)
        {
            var writer = json.Start();
            WriteChunkHeader(writer, reply);
            writer.WriteStartArray("choices");
            writer.WriteEndArray();
            UsageJson.WriteChat(writer, reply.PromptTokens, reply.CompletionTokens);
            if (includeObfuscation)
            {
                writer.WriteString("obfuscation", Obfuscation.For(reply.Pieces.Length + 2, 0));
            }

            writer.WriteEndObject();

            // OpenAI sends the usage chunk right behind the finish chunk, not after another gap.
            await sse.WriteDataAsync(json.Written, paced: false);
        }

        await sse.WriteDoneAsync();
    }

    /// <summary>A data-only <c>{"error":...}</c> event and the end of the stream, no <c>[DONE]</c> (CAP-4).</summary>
    private static async Task WriteMidStreamErrorAsync(SseStream sse, JsonBuffer json)
    {
        var writer = json.Start();
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", OpenAiErrors.ServerErrorMessage);
        writer.WriteString("type", "server_error");
        writer.WriteNull("param");
        writer.WriteNull("code");
        writer.WriteEndObject();
        writer.WriteEndObject();
        await sse.WriteDataAsync(json.Written);
    }

    private static void WriteChunk(
        Utf8JsonWriter writer,
        ChatReply reply,
        bool includeUsage,
        bool includeObfuscation,
        int sequence,
        string? delta,
        bool role,
        string? finishReason)
    {
        WriteChunkHeader(writer, reply);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("delta");
        if (role)
        {
            writer.WriteString("role", "assistant");
        }

        if (delta is not null)
        {
            writer.WriteString("content", delta);
        }

        if (role)
        {
            writer.WriteNull("refusal");
        }

        writer.WriteEndObject();
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
        if (includeUsage)
        {
            writer.WriteNull("usage");
        }

        if (includeObfuscation)
        {
            writer.WriteString("obfuscation", Obfuscation.For(sequence, delta?.Length ?? 0));
        }

        writer.WriteEndObject();
    }

    private static void WriteChunkHeader(Utf8JsonWriter writer, ChatReply reply)
    {
        writer.WriteStartObject();
        writer.WriteString("id", reply.Id);
        writer.WriteString("object", "chat.completion.chunk");
        writer.WriteNumber("created", reply.Created);
        writer.WriteString("model", reply.Model);
        writer.WriteString("service_tier", "default");
        writer.WriteString("system_fingerprint", "fp_fake");
    }

    private static void WriteCompletion(Utf8JsonWriter writer, ChatReply reply)
    {
        writer.WriteStartObject();
        writer.WriteString("id", reply.Id);
        writer.WriteString("object", "chat.completion");
        writer.WriteNumber("created", reply.Created);
        writer.WriteString("model", reply.Model);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        writer.WriteString("content", reply.Text);
        writer.WriteNull("refusal");
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", "stop");
        writer.WriteEndObject();
        writer.WriteEndArray();
        UsageJson.WriteChat(writer, reply.PromptTokens, reply.CompletionTokens);
        writer.WriteString("service_tier", "default");
        writer.WriteString("system_fingerprint", "fp_fake");
        writer.WriteEndObject();
    }

    private static (string LastUserText, int PromptTokens) ReadMessages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return (string.Empty, TokenEstimator.ChatPrompt(0, 0));
        }

        var lastUser = string.Empty;
        var textTokens = 0;
        var count = 0;
        foreach (var message in messages.EnumerateArray())
        {
            count++;
            var text = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content)
                ? JsonRead.Text(content)
                : string.Empty;
            textTokens += TokenEstimator.Count(text);
            if (JsonRead.String(message, "role") == "user")
            {
                lastUser = text;
            }
        }

        return (lastUser, TokenEstimator.ChatPrompt(count, textTokens));
    }
}

using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Realtime;

/// <summary>
/// The state of one Realtime session: what the client said (for deterministic replies and usage) and the server
/// events that answer it. Input grows turn by turn, as in the real API, where earlier turns are billed again.
/// </summary>
internal sealed class RealtimeConversation(string model, bool beta, int eventCount, long now)
{
    private readonly string _sessionId = "sess_" + Ids.Alphanumeric(22);
    private readonly string _conversationId = "conv_" + Ids.Alphanumeric(22);
    private string _lastUserText = string.Empty;
    private int _inputTextTokens;
    private int _inputAudioTokens;

    private string TextPartType => beta ? "text" : "output_text";

    public void WriteSessionEvent(Utf8JsonWriter w, string type)
    {
        Begin(w, type);
        w.WriteStartObject("session");
        w.WriteString("id", _sessionId);
        w.WriteString("object", "realtime.session");
        w.WriteString("model", model);
        if (beta)
        {
            w.WriteStartArray("modalities");
            w.WriteStringValue("text");
            w.WriteStringValue("audio");
            w.WriteEndArray();
            w.WriteString("voice", "alloy");
            w.WriteString("input_audio_format", "pcm16");
            w.WriteString("output_audio_format", "pcm16");
            w.WriteNumber("temperature", 0.8);
            w.WriteString("max_response_output_tokens", "inf");
        }
        else
        {
            w.WriteString("type", "realtime");
            w.WriteStartArray("output_modalities");
            w.WriteStringValue("audio");
            w.WriteEndArray();
            w.WriteString("max_output_tokens", "inf");
        }

        w.WriteString("instructions", string.Empty);
        w.WriteStartArray("tools");
        w.WriteEndArray();
        w.WriteString("tool_choice", "auto");
        w.WriteNumber("expires_at", now + 1800);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public void WriteSimple(Utf8JsonWriter w, string type)
    {
        Begin(w, type);
        w.WriteEndObject();
    }

    public void AddItem(JsonElement clientEvent)
    {
        if (JsonRead.Object(clientEvent, "item") is { } item)
        {
            var text = JsonRead.Text(item);
            _inputTextTokens += TokenEstimator.Count(text);
            if (JsonRead.String(item, "role") is null or "user")
            {
                _lastUserText = text;
            }
        }
    }

    public void WriteItemCreated(Utf8JsonWriter w, JsonElement clientEvent)
    {
        Begin(w, beta ? "conversation.item.created" : "conversation.item.added");
        w.WriteNull("previous_item_id");
        w.WritePropertyName("item");
        if (JsonRead.Object(clientEvent, "item") is { } item)
        {
            item.WriteTo(w);
        }
        else
        {
            w.WriteNullValue();
        }

        w.WriteEndObject();
    }

    public void AppendAudio(JsonElement clientEvent)
    {
        // Base64 of 24 kHz pcm16: 48,000 bytes a second, billed at roughly 10 audio tokens a second.
        var base64Length = JsonRead.String(clientEvent, "audio")?.Length ?? 0;
        _inputAudioTokens += base64Length * 3 / 4 / 4800;
    }

    public async Task RespondAsync(WebSocketSession session, JsonBuffer json, bool midStreamError)
    {
        var responseId = "resp_" + Ids.Alphanumeric(22);
        var itemId = "item_" + Ids.Alphanumeric(22);
        var pieces = ReplyText.Pieces(_lastUserText, eventCount);
        var text = string.Concat(pieces);

        var w = json.Start();
        Begin(w, "response.created");
        WriteResponse(w, responseId, itemId, "in_progress", text: null, failed: false);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = json.Start();
        Begin(w, "response.output_item.added");
        w.WriteString("response_id", responseId);
        w.WriteNumber("output_index", 0);
        w.WritePropertyName("item");
        WriteItem(w, itemId, "in_progress", text: null);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = BeginContent(json, "response.content_part.added", responseId, itemId);
        w.WritePropertyName("part");
        WritePart(w, string.Empty);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        var errorAfter = midStreamError ? (pieces.Length + 1) / 2 : -1;
        for (var i = 0; i <= pieces.Length; i++)
        {
            if (i == errorAfter)
            {
                await FailAsync(session, json, responseId, itemId);
                return;
            }

            if (i == pieces.Length)
            {
                break;
            }

            w = BeginContent(json, beta ? "response.text.delta" : "response.output_text.delta", responseId, itemId);
            w.WriteString("delta", pieces[i]);
            w.WriteEndObject();
            await session.SendAsync(json.Written);
        }

        w = BeginContent(json, beta ? "response.text.done" : "response.output_text.done", responseId, itemId);
        w.WriteString("text", text);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = BeginContent(json, "response.content_part.done", responseId, itemId);
        w.WritePropertyName("part");
        WritePart(w, text);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = json.Start();
        Begin(w, "response.output_item.done");
        w.WriteString("response_id", responseId);
        w.WriteNumber("output_index", 0);
        w.WritePropertyName("item");
        WriteItem(w, itemId, "completed", text);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = json.Start();
        Begin(w, "response.done");
        WriteResponse(w, responseId, itemId, "completed", text, failed: false, outputTokens: pieces.Length);
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        // The reply joins the conversation, so the next turn is billed for it as input.
        _inputTextTokens += pieces.Length;
    }

    /// <summary>The spec's error event; <paramref name="clientEventId"/> names the client event that caused it.</summary>
    public static void WriteError(Utf8JsonWriter w, string code, string message, string? param, string? clientEventId)
    {
        w.WriteStartObject();
        w.WriteString("event_id", "event_" + Ids.Alphanumeric(22));
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", "invalid_request_error");
        w.WriteString("code", code);
        w.WriteString("message", message);
        WriteNullable(w, "param", param);
        WriteNullable(w, "event_id", clientEventId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private async Task FailAsync(WebSocketSession session, JsonBuffer json, string responseId, string itemId)
    {
        var w = json.Start();
        w.WriteStartObject();
        w.WriteString("event_id", "event_" + Ids.Alphanumeric(22));
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", "server_error");
        w.WriteNull("code");
        w.WriteString("message", OpenAiErrors.ServerErrorMessage);
        w.WriteNull("param");
        w.WriteNull("event_id");
        w.WriteEndObject();
        w.WriteEndObject();
        await session.SendAsync(json.Written);

        w = json.Start();
        Begin(w, "response.done");
        WriteResponse(w, responseId, itemId, "failed", text: null, failed: true);
        w.WriteEndObject();
        await session.SendAsync(json.Written);
    }

    private static void Begin(Utf8JsonWriter w, string type)
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("event_id", "event_" + Ids.Alphanumeric(22));
    }

    private static Utf8JsonWriter BeginContent(JsonBuffer json, string type, string responseId, string itemId)
    {
        var w = json.Start();
        Begin(w, type);
        w.WriteString("response_id", responseId);
        w.WriteString("item_id", itemId);
        w.WriteNumber("output_index", 0);
        w.WriteNumber("content_index", 0);
        return w;
    }

    private void WriteResponse(Utf8JsonWriter w, string responseId, string itemId, string status, string? text, bool failed, int outputTokens = 0)
    {
        w.WriteStartObject("response");
        w.WriteString("object", "realtime.response");
        w.WriteString("id", responseId);
        w.WriteString("status", status);
        if (failed)
        {
            w.WriteStartObject("status_details");
            w.WriteString("type", "failed");
            w.WriteStartObject("error");
            w.WriteString("type", "server_error");
            w.WriteNull("code");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("status_details");
        }

        w.WriteStartArray("output");
        if (text is not null)
        {
            WriteItem(w, itemId, "completed", text);
        }

        w.WriteEndArray();
        w.WriteString("conversation_id", _conversationId);
        w.WriteStartArray(beta ? "modalities" : "output_modalities");
        w.WriteStringValue("text");
        w.WriteEndArray();
        if (status == "in_progress")
        {
            w.WriteNull("usage");
        }
        else
        {
            UsageJson.WriteRealtime(w, _inputTextTokens + 3, _inputAudioTokens, outputTokens);
        }

        w.WriteNull("metadata");
        w.WriteEndObject();
    }

    private void WriteItem(Utf8JsonWriter w, string itemId, string status, string? text)
    {
        w.WriteStartObject();
        w.WriteString("id", itemId);
        w.WriteString("object", "realtime.item");
        w.WriteString("type", "message");
        w.WriteString("status", status);
        w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        if (text is not null)
        {
            WritePart(w, text);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WritePart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", TextPartType);
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}

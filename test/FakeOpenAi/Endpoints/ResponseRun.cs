using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// One Responses API response: the Response object in its states and the stream events that build it
/// (wire doc §2.2), shared by <c>POST /v1/responses</c> and the WebSocket mode.
/// </summary>
internal sealed class ResponseRun
{
    private readonly string _id = "resp_" + Ids.Hex(48);
    private readonly string _messageId = "msg_" + Ids.Hex(48);
    private readonly long _createdAt;
    private readonly string _model;
    private readonly string? _instructions;
    private readonly int? _maxOutputTokens;
    private readonly string? _previousResponseId;
    private readonly bool _store;
    private readonly string[] _pieces;
    private readonly int _inputTokens;

    private ResponseRun(JsonElement request, string model, long createdAt, int eventCount)
    {
        _model = model;
        _createdAt = createdAt;
        _instructions = JsonRead.String(request, "instructions");
        _maxOutputTokens = JsonRead.Int(request, "max_output_tokens");
        _previousResponseId = JsonRead.String(request, "previous_response_id");
        _store = JsonRead.Bool(request, "store", fallback: true);
        var input = request.TryGetProperty("input", out var inputElement) ? inputElement : default;
        var lastUserText = LastUserText(input);
        _pieces = ReplyText.Pieces(lastUserText, eventCount);
        _inputTokens = TokenEstimator.Count(JsonRead.Text(input)) + TokenEstimator.Count(_instructions ?? string.Empty) + 3;
    }

    public string Text => string.Concat(_pieces);

    /// <summary>Null when the request has no <c>model</c> (the caller answers 400).</summary>
    public static ResponseRun? Create(JsonElement request, long createdAt, int eventCount) =>
        JsonRead.String(request, "model") is { } model ? new ResponseRun(request, model, createdAt, eventCount) : null;

    public void WriteCompleted(Utf8JsonWriter writer) => WriteResponse(writer, "completed", withOutput: true, withUsage: true, error: false);

    public async Task StreamAsync(IEventSink sink, JsonBuffer json, bool midStreamError, bool includeObfuscation)
    {
        var sequence = 0;

        var w = Begin(json, "response.created", sequence++);
        w.WritePropertyName("response");
        WriteResponse(w, "in_progress", withOutput: false, withUsage: false, error: false);
        await SendAsync(sink, json, w, "response.created");

        w = Begin(json, "response.in_progress", sequence++);
        w.WritePropertyName("response");
        WriteResponse(w, "in_progress", withOutput: false, withUsage: false, error: false);
        await SendAsync(sink, json, w, "response.in_progress");

        w = Begin(json, "response.output_item.added", sequence++);
        w.WriteNumber("output_index", 0);
        w.WritePropertyName("item");
        WriteMessage(w, "in_progress", text: null);
        await SendAsync(sink, json, w, "response.output_item.added");

        w = BeginContent(json, "response.content_part.added", sequence++);
        w.WritePropertyName("part");
        WritePart(w, string.Empty);
        await SendAsync(sink, json, w, "response.content_part.added");

        var errorAfter = midStreamError ? (_pieces.Length + 1) / 2 : -1;
        for (var i = 0; i < _pieces.Length; i++)
        {
            if (i == errorAfter)
            {
                await FailAsync(sink, json, sequence);
                return;
            }

            w = BeginContent(json, "response.output_text.delta", sequence);
            w.WriteString("delta", _pieces[i]);
            w.WriteStartArray("logprobs");
            w.WriteEndArray();
            if (includeObfuscation)
            {
                w.WriteString("obfuscation", Obfuscation.For(sequence, _pieces[i].Length));
            }

            sequence++;
            await SendAsync(sink, json, w, "response.output_text.delta");
        }

        if (errorAfter >= 0)
        {
            await FailAsync(sink, json, sequence);
            return;
        }

        w = BeginContent(json, "response.output_text.done", sequence++);
        w.WriteString("text", Text);
        w.WriteStartArray("logprobs");
        w.WriteEndArray();
        await SendAsync(sink, json, w, "response.output_text.done");

        w = BeginContent(json, "response.content_part.done", sequence++);
        w.WritePropertyName("part");
        WritePart(w, Text);
        await SendAsync(sink, json, w, "response.content_part.done");

        w = Begin(json, "response.output_item.done", sequence++);
        w.WriteNumber("output_index", 0);
        w.WritePropertyName("item");
        WriteMessage(w, "completed", Text);
        await SendAsync(sink, json, w, "response.output_item.done");

        w = Begin(json, "response.completed", sequence);
        w.WritePropertyName("response");
        WriteCompleted(w);
        await SendAsync(sink, json, w, "response.completed");
    }

    /// <summary>The production shape: a nested <c>event: error</c>, then a terminal <c>response.failed</c> (CAP-3).</summary>
    private async Task FailAsync(IEventSink sink, JsonBuffer json, int sequence)
    {
        var w = Begin(json, "error", sequence++);
        w.WriteStartObject("error");
        w.WriteString("type", "server_error");
        w.WriteString("code", "server_error");
        w.WriteString("message", OpenAiErrors.ServerErrorMessage);
        w.WriteNull("param");
        w.WriteEndObject();
        await SendAsync(sink, json, w, "error");

        w = Begin(json, "response.failed", sequence);
        w.WritePropertyName("response");
        WriteResponse(w, "failed", withOutput: false, withUsage: false, error: true);
        await SendAsync(sink, json, w, "response.failed");
    }

    private static Utf8JsonWriter Begin(JsonBuffer json, string type, int sequence)
    {
        var writer = json.Start();
        writer.WriteStartObject();
        writer.WriteString("type", type);
        writer.WriteNumber("sequence_number", sequence);
        return writer;
    }

    private Utf8JsonWriter BeginContent(JsonBuffer json, string type, int sequence)
    {
        var writer = Begin(json, type, sequence);
        writer.WriteString("item_id", _messageId);
        writer.WriteNumber("output_index", 0);
        writer.WriteNumber("content_index", 0);
        return writer;
    }

    private static ValueTask SendAsync(IEventSink sink, JsonBuffer json, Utf8JsonWriter writer, string type)
    {
        writer.WriteEndObject();
        return sink.SendAsync(type, json.Written);
    }

    private void WriteResponse(Utf8JsonWriter w, string status, bool withOutput, bool withUsage, bool error)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", "response");
        w.WriteNumber("created_at", _createdAt);
        w.WriteString("status", status);
        w.WriteBoolean("background", false);
        if (error)
        {
            w.WriteStartObject("error");
            w.WriteString("code", "server_error");
            w.WriteString("message", OpenAiErrors.ServerErrorMessage);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("error");
        }

        w.WriteNull("incomplete_details");
        WriteNullable(w, "instructions", _instructions);
        if (_maxOutputTokens is { } max)
        {
            w.WriteNumber("max_output_tokens", max);
        }
        else
        {
            w.WriteNull("max_output_tokens");
        }

        w.WriteString("model", _model);
        w.WriteStartArray("output");
        if (withOutput)
        {
            WriteMessage(w, "completed", Text);
        }

        w.WriteEndArray();
        w.WriteBoolean("parallel_tool_calls", true);
        WriteNullable(w, "previous_response_id", _previousResponseId);
        w.WriteStartObject("reasoning");
        w.WriteNull("effort");
        w.WriteNull("summary");
        w.WriteEndObject();
        w.WriteString("service_tier", "default");
        w.WriteBoolean("store", _store);
        w.WriteNumber("temperature", 1.0);
        w.WriteStartObject("text");
        w.WriteStartObject("format");
        w.WriteString("type", "text");
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteString("tool_choice", "auto");
        w.WriteStartArray("tools");
        w.WriteEndArray();
        w.WriteNumber("top_p", 1.0);
        w.WriteString("truncation", "disabled");
        if (withUsage)
        {
            UsageJson.WriteResponses(w, _inputTokens, _pieces.Length);
        }
        else
        {
            w.WriteNull("usage");
        }

        w.WriteNull("user");
        w.WriteStartObject("metadata");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteMessage(Utf8JsonWriter w, string status, string? text)
    {
        w.WriteStartObject();
        w.WriteString("id", _messageId);
        w.WriteString("type", "message");
        w.WriteString("status", status);
        w.WriteStartArray("content");
        if (text is not null)
        {
            WritePart(w, text);
        }

        w.WriteEndArray();
        w.WriteString("role", "assistant");
        w.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "output_text");
        w.WriteStartArray("annotations");
        w.WriteEndArray();
        w.WriteStartArray("logprobs");
        w.WriteEndArray();
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

    /// <summary>The text of the last user message in <c>input</c> (a string, or an array of items).</summary>
    private static string LastUserText(JsonElement input)
    {
        if (input.ValueKind == JsonValueKind.String)
        {
            return input.GetString() ?? string.Empty;
        }

        var last = string.Empty;
        if (input.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in input.EnumerateArray())
            {
                var role = JsonRead.String(item, "role");
                if (role is null or "user")
                {
                    last = JsonRead.Text(item);
                }
            }
        }

        return last;
    }
}

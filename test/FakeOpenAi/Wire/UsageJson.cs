using System.Text.Json;

namespace FakeOpenAi.Wire;

/// <summary>The usage objects of wire doc §3, one shape per API (they differ in names and nesting).</summary>
internal static class UsageJson
{
    /// <summary>Chat and legacy completions: <c>prompt_tokens</c>/<c>completion_tokens</c> with both detail objects.</summary>
    public static void WriteChat(Utf8JsonWriter writer, int promptTokens, int completionTokens)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", promptTokens);
        writer.WriteNumber("completion_tokens", completionTokens);
        writer.WriteNumber("total_tokens", promptTokens + completionTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", 0);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteEndObject();
        writer.WriteStartObject("completion_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteNumber("accepted_prediction_tokens", 0);
        writer.WriteNumber("rejected_prediction_tokens", 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Legacy completions: the three totals only.</summary>
    public static void WriteCompletionTotals(Utf8JsonWriter writer, int promptTokens, int completionTokens)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", promptTokens);
        writer.WriteNumber("completion_tokens", completionTokens);
        writer.WriteNumber("total_tokens", promptTokens + completionTokens);
        writer.WriteEndObject();
    }

    /// <summary>Responses API: <c>input_tokens</c>/<c>output_tokens</c> with <c>*_tokens_details</c>.</summary>
    public static void WriteResponses(Utf8JsonWriter writer, int inputTokens, int outputTokens)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", inputTokens);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("cached_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", outputTokens);
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("total_tokens", inputTokens + outputTokens);
        writer.WriteEndObject();
    }

    /// <summary>Realtime <c>response.done</c>: note the singular <c>input_token_details</c>/<c>output_token_details</c>.</summary>
    public static void WriteRealtime(Utf8JsonWriter writer, int inputTextTokens, int inputAudioTokens, int outputTextTokens)
    {
        var input = inputTextTokens + inputAudioTokens;
        writer.WriteStartObject("usage");
        writer.WriteNumber("total_tokens", input + outputTextTokens);
        writer.WriteNumber("input_tokens", input);
        writer.WriteNumber("output_tokens", outputTextTokens);
        writer.WriteStartObject("input_token_details");
        writer.WriteNumber("text_tokens", inputTextTokens);
        writer.WriteNumber("audio_tokens", inputAudioTokens);
        writer.WriteNumber("image_tokens", 0);
        writer.WriteNumber("cached_tokens", 0);
        writer.WriteStartObject("cached_tokens_details");
        writer.WriteNumber("text_tokens", 0);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteNumber("image_tokens", 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteStartObject("output_token_details");
        writer.WriteNumber("text_tokens", outputTextTokens);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Transcription with a token-billed model (<c>type: tokens</c>).</summary>
    public static void WriteTranscriptionTokens(Utf8JsonWriter writer, int audioTokens, int outputTokens)
    {
        writer.WriteStartObject("usage");
        writer.WriteString("type", "tokens");
        writer.WriteNumber("input_tokens", audioTokens);
        writer.WriteStartObject("input_token_details");
        writer.WriteNumber("text_tokens", 0);
        writer.WriteNumber("audio_tokens", audioTokens);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", outputTokens);
        writer.WriteNumber("total_tokens", audioTokens + outputTokens);
        writer.WriteEndObject();
    }

    /// <summary>Transcription with whisper-1 (<c>type: duration</c>).</summary>
    public static void WriteTranscriptionDuration(Utf8JsonWriter writer, int seconds)
    {
        writer.WriteStartObject("usage");
        writer.WriteString("type", "duration");
        writer.WriteNumber("seconds", seconds);
        writer.WriteEndObject();
    }
}

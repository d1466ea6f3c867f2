using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FakeOpenAi.Wire;

/// <summary>Lenient readers for request JSON: a fake should answer whatever an SDK sends, not validate it.</summary>
internal static class JsonRead
{
    public static string? String(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static bool Bool(JsonElement obj, string name, bool fallback = false) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : fallback;

    public static int? Int(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
            ? number
            : null;

    public static JsonElement? Object(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    /// <summary>
    /// The text in a message content: a string, or an array of parts with <c>text</c> (chat <c>text</c>,
    /// Responses <c>input_text</c>/<c>output_text</c>), or nested <c>content</c>.
    /// </summary>
    public static string Text(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString() ?? string.Empty;
            case JsonValueKind.Array:
                var builder = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    var text = Text(part);
                    if (text.Length > 0)
                    {
                        if (builder.Length > 0)
                        {
                            builder.Append(' ');
                        }

                        builder.Append(text);
                    }
                }

                return builder.ToString();
            case JsonValueKind.Object:
                if (String(content, "text") is { } partText)
                {
                    return partText;
                }

                return content.TryGetProperty("content", out var nested) ? Text(nested) : string.Empty;
            case JsonValueKind.Number:
                // Token arrays (legacy completions, embeddings) count as one word per token.
                return content.GetRawText();
            default:
                return string.Empty;
        }
    }

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}

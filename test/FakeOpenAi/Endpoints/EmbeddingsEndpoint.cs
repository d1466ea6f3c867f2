using System.Buffers.Binary;
using System.Text.Json;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// <c>POST /v1/embeddings</c>: one unit-length vector per input, derived from the input text so the same input
/// always embeds the same way. Honours <c>encoding_format</c> (the .NET SDK asks for <c>base64</c>: little-endian
/// float32) and <c>dimensions</c>.
/// </summary>
internal static class EmbeddingsEndpoint
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

        if (!root.TryGetProperty("input", out var input))
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "input");
            return;
        }

        var inputs = Inputs(input);
        var dimensions = JsonRead.Int(root, "dimensions") is { } requested and > 0
            ? requested
            : model.Contains("3-large", StringComparison.Ordinal) ? 3072 : 1536;
        var base64 = JsonRead.String(root, "encoding_format") == "base64";

        var writer = x.Json.Start();
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        var vector = new float[dimensions];
        var bytes = base64 ? new byte[dimensions * sizeof(float)] : [];
        var tokens = 0;
        for (var i = 0; i < inputs.Count; i++)
        {
            tokens += Math.Max(1, TokenEstimator.Count(inputs[i]));
            Embed(inputs[i], vector);
            writer.WriteStartObject();
            writer.WriteString("object", "embedding");
            writer.WriteNumber("index", i);
            if (base64)
            {
                for (var d = 0; d < vector.Length; d++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(d * sizeof(float)), vector[d]);
                }

                writer.WriteBase64String("embedding", bytes);
            }
            else
            {
                writer.WriteStartArray("embedding");
                foreach (var value in vector)
                {
                    writer.WriteNumberValue(value);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteString("model", model);
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", tokens);
        writer.WriteNumber("total_tokens", tokens);
        writer.WriteEndObject();
        writer.WriteEndObject();
        await x.WriteJsonAsync();
    }

    /// <summary>A string, an array of strings, an array of tokens, or an array of token arrays.</summary>
    private static List<string> Inputs(JsonElement input)
    {
        var inputs = new List<string>();
        if (input.ValueKind == JsonValueKind.Array && input.GetArrayLength() > 0
            && input[0].ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            foreach (var item in input.EnumerateArray())
            {
                inputs.Add(JsonRead.Text(item));
            }
        }
        else
        {
            inputs.Add(JsonRead.Text(input));
        }

        return inputs;
    }

    /// <summary>A deterministic pseudo-random vector seeded by the text (FNV-1a + xorshift), normalised to length 1.</summary>
    private static void Embed(string text, float[] vector)
    {
        var state = 14695981039346656037UL;
        foreach (var c in text)
        {
            state = (state ^ c) * 1099511628211UL;
        }

        double sumOfSquares = 0;
        for (var i = 0; i < vector.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            var value = ((state >> 11) / (double)(1UL << 53) * 2) - 1;
            vector[i] = (float)value;
            sumOfSquares += value * value;
        }

        var scale = sumOfSquares > 0 ? (float)(1 / Math.Sqrt(sumOfSquares)) : 0f;
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= scale;
        }
    }
}

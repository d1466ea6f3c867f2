using System.Buffers;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace OpenAiRelay.Metering;

/// <summary>
/// Counts tokens with OpenAI's own BPE vocabularies (o200k_base for the GPT-4o/4.1/5 and o-series families,
/// cl100k_base for GPT-4 and GPT-3.5), to estimate a prompt at admission and to settle a request whose usage never
/// arrived. Each vocabulary is loaded once, on first use (a few hundred milliseconds), and is thread-safe afterwards.
/// </summary>
internal static class TokenEstimator
{
    // OpenAI's cookbook: every chat message costs its text plus about 3 tokens of framing, and the reply is primed with 3.
    public const int TokensPerMessage = 3;
    public const int ReplyPriming = 3;

    private static readonly Lazy<Tokenizer> s_o200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<Tokenizer> s_cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>What a property name means to the estimate.</summary>
    [Flags]
    private enum Field
    {
        None = 0,

        /// <summary>Its string values are prompt text. Everything else (model, role, image data, ids) is not.</summary>
        Text = 1,

        /// <summary>At the root, its array is the list of messages (each costs framing).</summary>
        MessageList = 2,
    }

    /// <summary>Loads the default vocabulary now, so the first request does not pay for it.</summary>
    public static void Warm() => _ = s_o200k.Value.CountTokens("warm");

    public static int CountText(ReadOnlySpan<char> text, string? model = null)
        => text.IsEmpty ? 0 : For(model).CountTokens(text);

    /// <summary>
    /// Estimates the prompt of a chat, responses, completions or embeddings request body: the text of its messages,
    /// input, prompt and instructions, plus per-message framing. Never throws: bad or truncated JSON gives the count so far.
    /// </summary>
    public static int EstimatePromptTokens(ReadOnlySpan<byte> jsonBody, string? model = null)
    {
        var tokenizer = For(model);
        var reader = new Utf8JsonReader(jsonBody, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        var total = 0;
        var messages = 0;
        var property = Field.None;
        var messagesArrayDepth = -1;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = Classify(ref reader);
                        break;
                    case JsonTokenType.StartArray:
                        if (messagesArrayDepth < 0 && reader.CurrentDepth == 1 && (property & Field.MessageList) != 0)
                        {
                            messagesArrayDepth = reader.CurrentDepth;
                        }

                        break;
                    case JsonTokenType.EndArray:
                        if (reader.CurrentDepth == messagesArrayDepth)
                        {
                            messagesArrayDepth = -2; // Only the first top-level list counts as messages.
                        }

                        break;
                    case JsonTokenType.StartObject:
                        if (messagesArrayDepth >= 0 && reader.CurrentDepth == messagesArrayDepth + 1)
                        {
                            messages++;
                        }

                        property = Field.None;
                        break;
                    case JsonTokenType.String when (property & Field.Text) != 0:
                        total += CountString(ref reader, tokenizer);
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Best effort: what was read so far. InvalidOperationException: an escaped lone surrogate in a name.
        }

        return total + (messages * TokensPerMessage) + (messages > 0 ? ReplyPriming : 0);
    }

    /// <summary>
    /// Compares the name in place (ValueTextEquals also matches escaped names) instead of materialising a string for
    /// every property of every request body, which the estimate on each chat request used to do.
    /// </summary>
    private static Field Classify(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("prompt"u8)
            || reader.ValueTextEquals("instructions"u8) || reader.ValueTextEquals("arguments"u8) || reader.ValueTextEquals("output"u8)
            || reader.ValueTextEquals("description"u8) || reader.ValueTextEquals("name"u8) || reader.ValueTextEquals("system"u8))
        {
            return Field.Text;
        }

        return reader.ValueTextEquals("input"u8) ? Field.Text | Field.MessageList
            : reader.ValueTextEquals("messages"u8) ? Field.MessageList
            : Field.None;
    }

    private static int CountString(ref Utf8JsonReader reader, Tokenizer tokenizer)
    {
        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var buffer = ArrayPool<char>.Shared.Rent(Math.Max(1, length));
        try
        {
            // UTF-8 never needs more UTF-16 chars than bytes, and escapes only shrink.
            var written = reader.CopyString(buffer);
            return tokenizer.CountTokens(buffer.AsSpan(0, written));
        }
        catch (InvalidOperationException)
        {
            // NOTE: a lone surrogate escape ("\ud800") is valid JSON syntax but not a string .NET can unescape.
            // Found by the security tests: it used to be a 500. Estimate it at about 4 bytes per token instead.
            return Math.Max(1, length / 4);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static Tokenizer For(string? model)
    {
        if (model is null)
        {
            return s_o200k.Value;
        }

        var isLegacy = (model.StartsWith("gpt-4", StringComparison.OrdinalIgnoreCase)
                && !model.StartsWith("gpt-4o", StringComparison.OrdinalIgnoreCase)
                && !model.StartsWith("gpt-4.", StringComparison.OrdinalIgnoreCase))
            || model.StartsWith("gpt-3.5", StringComparison.OrdinalIgnoreCase)
            || model.StartsWith("text-embedding-", StringComparison.OrdinalIgnoreCase);
        return isLegacy ? s_cl100k.Value : s_o200k.Value;
    }
}

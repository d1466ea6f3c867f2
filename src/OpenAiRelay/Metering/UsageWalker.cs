using System.Text;
using System.Text.Json;

namespace OpenAiRelay.Metering;

/// <summary>
/// Walks JSON tokens (possibly fed in pieces) and picks out what metering needs, whatever the endpoint family:
/// the <c>usage</c> object at the root (chat, completions, embeddings, images, audio, Responses JSON) or under a root
/// <c>response</c> (Responses stream events, realtime <c>response.done</c>), its token fields under either naming
/// (<c>prompt_tokens</c>/<c>input_tokens</c>, <c>*_tokens_details</c>/<c>input_token_details</c>), the response's
/// <c>model</c>, and streamed text deltas (for an estimate when usage never arrives). It never throws on odd JSON:
/// unknown shapes are simply not metered, and new fields pass unnoticed.
/// </summary>
internal sealed class UsageWalker
{
    private const int MaxDepth = 16;
    private const int MaxDeltaChars = 512 * 1024;

    private readonly string?[] _names = new string?[MaxDepth];
    private int _usageDepth = -1;
    private bool _usageNamePending;
    private long _input;
    private long _cached;
    private long _output;
    private long _reasoning;
    private bool _choicesPending;
    private bool _emptyChoicesCandidate;
    private int _nullUsageStart;

    /// <summary>The last complete usage object seen.</summary>
    public TokenUsage? Usage { get; private set; }

    public string? Model { get; private set; }

    /// <summary>Streamed output text (chat deltas, Responses and transcript deltas), capped.</summary>
    public StringBuilder DeltaText { get; } = new();

    /// <summary>Per event: the root carried <c>"choices":[]</c> (the usage-only chunk of a chat stream).</summary>
    public bool EmptyChoices { get; private set; }

    /// <summary>Per event: the root's <c>"usage":null</c>, as a byte range of the payload (start, end) to cut.</summary>
    public (int Start, int End)? NullUsageRange { get; private set; }

    /// <summary>Per event: whether the root carried a non-null usage object.</summary>
    public bool EventHadUsage { get; private set; }

    /// <summary>Clears the per-event facts before walking the next SSE event.</summary>
    public void BeginEvent()
    {
        Array.Clear(_names);
        _usageDepth = -1;
        _usageNamePending = false;
        _choicesPending = false;
        EmptyChoices = false;
        NullUsageRange = null;
        EventHadUsage = false;
    }

    /// <summary>Reads every complete token available; returns false on malformed JSON (the caller stops walking).</summary>
    public bool Walk(ref Utf8JsonReader reader)
    {
        try
        {
            while (reader.Read())
            {
                OnToken(ref reader);
            }

            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate ("\ud83d" alone, as a model can emit when an emoji
            // is split across stream deltas) cannot be unescaped to a string. The bytes still pass untouched.
            return false;
        }
    }

    private void OnToken(ref Utf8JsonReader reader)
    {
        var depth = reader.CurrentDepth;
        switch (reader.TokenType)
        {
            case JsonTokenType.PropertyName:
                var name = PropertyName(ref reader, depth);
                if (depth < MaxDepth)
                {
                    _names[depth] = name;
                }

                _usageNamePending = name == "usage" && (depth == 1 || (depth == 2 && _names[1] == "response"));
                _choicesPending = name == "choices" && depth == 1;
                if (_usageNamePending && depth == 1)
                {
                    _nullUsageStart = (int)reader.TokenStartIndex;
                }

                return;

            case JsonTokenType.StartObject when _usageNamePending:
                _usageNamePending = false;
                _usageDepth = depth;
                _input = _cached = _output = _reasoning = 0;
                return;

            case JsonTokenType.Null when _usageNamePending:
                _usageNamePending = false;
                if (depth == 1)
                {
                    NullUsageRange = (_nullUsageStart, (int)reader.BytesConsumed);
                }

                return;

            case JsonTokenType.StartArray when _choicesPending:
                _choicesPending = false;
                _emptyChoicesCandidate = true;
                return;

            case JsonTokenType.EndArray when _emptyChoicesCandidate:
                _emptyChoicesCandidate = false;
                EmptyChoices = true;
                return;

            case JsonTokenType.EndObject when depth == _usageDepth:
                _usageDepth = -1;
                Usage = new TokenUsage(_input, _cached, _output, _reasoning);
                EventHadUsage = true;
                return;

            case JsonTokenType.Number when _usageDepth >= 0:
                ReadUsageNumber(ref reader, depth);
                return;

            case JsonTokenType.String:
                ReadString(ref reader, depth);
                return;
        }

        _usageNamePending = false;
        _choicesPending = false;
        _emptyChoicesCandidate = false;
    }

    private void ReadUsageNumber(ref Utf8JsonReader reader, int depth)
    {
        if (!reader.TryGetInt64(out var value) || depth >= MaxDepth)
        {
            return;
        }

        var name = _names[depth];
        if (depth == _usageDepth + 1)
        {
            switch (name)
            {
                case "prompt_tokens" or "input_tokens":
                    _input = value;
                    break;
                case "completion_tokens" or "output_tokens":
                    _output = value;
                    break;
            }
        }
        else if (depth == _usageDepth + 2)
        {
            var parent = _names[depth - 1];
            if (name == "cached_tokens" && parent is "prompt_tokens_details" or "input_tokens_details" or "input_token_details")
            {
                _cached = value;
            }
            else if (name == "reasoning_tokens" && parent is "completion_tokens_details" or "output_tokens_details")
            {
                _reasoning = value;
            }
        }
    }

    private void ReadString(ref Utf8JsonReader reader, int depth)
    {
        _usageNamePending = false;
        if (depth >= MaxDepth)
        {
            return;
        }

        var name = _names[depth];
        if (depth == 1 && name == "model" && Model is null)
        {
            Model = TryGetString(ref reader);
        }
        else if ((name == "content" && depth >= 2 && _names[depth - 1] == "delta") || (name == "delta" && depth == 1))
        {
            if (DeltaText.Length < MaxDeltaChars)
            {
                DeltaText.Append(TryGetString(ref reader));
            }
        }
    }

    /// <summary>A string value, or null when it holds an escaped lone surrogate that cannot become a .NET string.</summary>
    private static string? TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Property names that matter are short ASCII; others are not materialised as strings.</summary>
    private static string? PropertyName(ref Utf8JsonReader reader, int depth)
    {
        if (reader.ValueIsEscaped || reader.ValueSpan.Length > 32 || depth > 5)
        {
            return null;
        }

        var span = reader.ValueSpan;
        return span switch
        {
            _ when span.SequenceEqual("usage"u8) => "usage",
            _ when span.SequenceEqual("response"u8) => "response",
            _ when span.SequenceEqual("choices"u8) => "choices",
            _ when span.SequenceEqual("model"u8) => "model",
            _ when span.SequenceEqual("delta"u8) => "delta",
            _ when span.SequenceEqual("content"u8) => "content",
            _ when span.SequenceEqual("prompt_tokens"u8) => "prompt_tokens",
            _ when span.SequenceEqual("input_tokens"u8) => "input_tokens",
            _ when span.SequenceEqual("completion_tokens"u8) => "completion_tokens",
            _ when span.SequenceEqual("output_tokens"u8) => "output_tokens",
            _ when span.SequenceEqual("cached_tokens"u8) => "cached_tokens",
            _ when span.SequenceEqual("reasoning_tokens"u8) => "reasoning_tokens",
            _ when span.SequenceEqual("prompt_tokens_details"u8) => "prompt_tokens_details",
            _ when span.SequenceEqual("input_tokens_details"u8) => "input_tokens_details",
            _ when span.SequenceEqual("input_token_details"u8) => "input_token_details",
            _ when span.SequenceEqual("completion_tokens_details"u8) => "completion_tokens_details",
            _ when span.SequenceEqual("output_tokens_details"u8) => "output_tokens_details",
            _ => null,
        };
    }
}

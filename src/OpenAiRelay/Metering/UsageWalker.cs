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
    private decimal _seconds;
    private bool _durationUsage;
    private bool _usageInvalid;
    private int _seenFields;
    private bool _usageSeenInEvent;
    private bool _choicesPending;
    private bool _emptyChoicesCandidate;
    private int _nullUsageStart;

    private TokenUsage? _usage;

    /// <summary>The last complete usage object seen; null once any usage object failed validation (see <see cref="UsageRejected"/>).</summary>
    public TokenUsage? Usage
    {
        get => UsageRejected ? null : _usage;
        private set => _usage = value;
    }

    /// <summary>
    /// A usage object failed validation (a count that is not a non-negative integer up to
    /// <see cref="UsageLimits.MaxTokens"/>, cached above input, reasoning above output, a duplicated field or a second
    /// usage in one object): the response's usage is unreadable, and the ledger records an estimate, flagged.
    /// </summary>
    public bool UsageRejected { get; private set; }

    /// <summary>The Response object's <c>id</c> (root, or <c>response.id</c> in stream events).</summary>
    public string? ResponseId { get; private set; }

    /// <summary>The Response object's <c>status</c> (root, or <c>response.status</c>); the latest seen.</summary>
    public string? ResponseStatus { get; private set; }

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
        _usageSeenInEvent = false;
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
                if (_usageSeenInEvent)
                {
                    // NOTE: two "usage" keys in one object: a JSON parser keeps the last, a reader the first. An
                    // ambiguous bill is no bill: the usage is unreadable (it billed 1/1 instead of 1000/2000).
                    UsageRejected = true;
                }

                _usageSeenInEvent = true;
                _usageDepth = depth;
                _input = _cached = _output = _reasoning = 0;
                _seconds = 0;
                _durationUsage = false;
                _usageInvalid = false;
                _seenFields = 0;
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
                EventHadUsage = true;
                if (_usageInvalid || _cached > _input || _reasoning > _output)
                {
                    UsageRejected = true;
                    return;
                }

                Usage = new TokenUsage(_input, _cached, _output, _reasoning, _durationUsage ? AudioMilliseconds(_seconds) : 0);
                return;

            case JsonTokenType.Number when _usageDepth >= 0:
                ReadUsageNumber(ref reader, depth);
                return;

            case JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null or JsonTokenType.StartObject or JsonTokenType.StartArray
                when _usageDepth >= 0 && IsCountField(depth):
                // A count that is not a number (true, null, an object): unreadable, not zero.
                // A details object (or null, as some compatible services send) is where the counts live, not a count.
                _usageInvalid |= !(depth == _usageDepth + 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.Null
                    && _names[depth] is "prompt_tokens_details" or "input_tokens_details" or "input_token_details" or "completion_tokens_details" or "output_tokens_details");
                break;

            case JsonTokenType.String:
                ReadString(ref reader, depth);
                return;
        }

        _usageNamePending = false;
        _choicesPending = false;
        _emptyChoicesCandidate = false;
    }

    /// <summary>Whether the property at <paramref name="depth"/> inside the usage object is one the relay bills on.</summary>
    private bool IsCountField(int depth)
    {
        if (depth >= MaxDepth)
        {
            return false;
        }

        var name = _names[depth];
        if (depth == _usageDepth + 1)
        {
            return name is "prompt_tokens" or "input_tokens" or "completion_tokens" or "output_tokens" or "seconds"
                or "prompt_tokens_details" or "input_tokens_details" or "input_token_details" or "completion_tokens_details" or "output_tokens_details";
        }

        return depth == _usageDepth + 2 && name is "cached_tokens" or "reasoning_tokens";
    }

    private void ReadUsageNumber(ref Utf8JsonReader reader, int depth)
    {
        if (depth >= MaxDepth || !IsCountField(depth))
        {
            return;
        }

        var name = _names[depth];
        if (name == "seconds" && depth == _usageDepth + 1)
        {
            if (reader.TryGetDecimal(out var seconds) && seconds >= 0 && seconds <= UsageLimits.MaxAudioSeconds)
            {
                _seconds = seconds;
            }
            else
            {
                _usageInvalid = true;
            }

            return;
        }

        // Integers only: 1000.0, 2e3, values past Int64 and negative or absurd counts make the usage unreadable.
        if (!IsPlainInteger(reader.ValueSpan) || !reader.TryGetInt64(out var value) || value < 0 || value > UsageLimits.MaxTokens)
        {
            _usageInvalid = true;
            return;
        }

        var bit = name switch
        {
            "prompt_tokens" or "input_tokens" => 1,
            "completion_tokens" or "output_tokens" => 2,
            "cached_tokens" => 4,
            "reasoning_tokens" => 8,
            _ => 0,
        };
        if (bit != 0 && depth == _usageDepth + (bit >= 4 ? 2 : 1))
        {
            if ((_seenFields & bit) != 0)
            {
                // The same count twice in one usage object: ambiguous, so unreadable.
                _usageInvalid = true;
                return;
            }

            _seenFields |= bit;
        }

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

    private static bool IsPlainInteger(ReadOnlySpan<byte> number) => number.IndexOfAny((byte)'.', (byte)'e', (byte)'E') < 0;

    private static long AudioMilliseconds(decimal seconds) => (long)Math.Round(seconds * 1000m, MidpointRounding.AwayFromZero);

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
        else if (_usageDepth >= 0 && IsCountField(depth))
        {
            // "1000" as a string: not a count.
            _usageInvalid = true;
        }
        else if (_usageDepth >= 0 && depth == _usageDepth + 1 && name == "type")
        {
            _durationUsage = reader.ValueTextEquals("duration"u8);
        }
        else if (name is "id" or "status" && (depth == 1 || (depth == 2 && _names[1] == "response")))
        {
            if (name == "id")
            {
                ResponseId = TryGetString(ref reader);
            }
            else
            {
                ResponseStatus = TryGetString(ref reader);
            }
        }
        else if ((name == "content" && depth >= 2 && _names[depth - 1] == "delta") || (name == "delta" && depth == 1))
        {
            if (DeltaText.Length < MaxDeltaChars && TryGetString(ref reader) is { } delta)
            {
                // Only what fits: one 10 MB delta must not grow the buffer past its cap.
                DeltaText.Append(delta.AsSpan(0, Math.Min(delta.Length, MaxDeltaChars - DeltaText.Length)));
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
            _ when span.SequenceEqual("id"u8) => "id",
            _ when span.SequenceEqual("status"u8) => "status",
            _ when span.SequenceEqual("type"u8) => "type",
            _ when span.SequenceEqual("seconds"u8) => "seconds",
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

using System.Text;
using System.Text.Json;

namespace OpenAiRelay.Isolation;

/// <summary>
/// The upstream object ids a JSON request body refers to: <c>previous_response_id</c>, <c>conversation</c> (an id or
/// <c>{"id"}</c>), <c>input_file_id</c>, <c>file_id</c>, <c>file_ids</c>, <c>vector_store_ids</c> (in tools and tool
/// resources too), <c>training_file</c>, <c>validation_file</c>, <c>assistant_id</c>, <c>thread_id</c>, a tool's
/// <c>container</c>, a <c>model</c> that is a fine-tuned one (<c>ft:...</c>), and any other property named <c>*_id</c> or <c>*_ids</c> whose value has the prefix of an
/// object id (a field added to the API later is checked without a change here). Values of other properties (prompts,
/// free text) are never looked at.
/// </summary>
internal static class ObjectReferences
{
    /// <summary>The prefixes of the ids of objects the relay records (OpenAI's own, as its create responses show).</summary>
    private static readonly string[] s_prefixes =
    [
        "file-", "upload_", "batch_", "vs_", "vsfb_", "resp_", "conv_", "chatcmpl-", "asst_", "thread_", "run_", "ftjob-",
        "eval_", "evalrun_", "cntr_", "video_", "ft:",
    ];

    // Quick test before a walk: a body without any of these bytes names no object (most chat requests).
    private static readonly byte[][] s_markers =
        [.. new[] { "_id\"", "_ids\"", "\"conversation\"", "_file\"", "\"container\"", "\"ft:" }.Select(Encoding.UTF8.GetBytes)];

    /// <summary>True when <paramref name="value"/> has the shape of an object id the relay records.</summary>
    public static bool LooksLikeObjectId(string value)
    {
        foreach (var prefix in s_prefixes)
        {
            if (value.Length > prefix.Length && value.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Every referenced id with the property that named it; empty for a body that is not JSON.</summary>
    public static IReadOnlyList<(string Field, string Id)> Find(ReadOnlySpan<byte> json)
    {
        if (!MayRefer(json))
        {
            return [];
        }

        var found = new List<(string, string)>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        // Per open object or array, the property that opened it: an array under a property naming ids holds ids, and
        // the "id" of an object under "conversation" is one.
        var opened = new Stack<(bool Array, string? Name)>();
        string? property = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.GetString();
                        continue;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        opened.Push((reader.TokenType == JsonTokenType.StartArray, property));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        opened.TryPop(out _);
                        break;
                    case JsonTokenType.String:
                        var field = property switch
                        {
                            null when opened.TryPeek(out var frame) && frame is { Array: true, Name: { } array } && NamesIds(array) => array,
                            "id" when opened.TryPeek(out var frame) && frame is { Array: false, Name: "conversation" } => "conversation",
                            // An eval run's data source names its file: {"source":{"type":"file_id","id":"file-..."}}.
                            "id" when opened.TryPeek(out var frame) && frame is { Array: false, Name: "source" } => "source",
                            { } name when NamesIds(name) => name,
                            _ => null,
                        };
                        if (field is not null && reader.GetString() is { } value && LooksLikeObjectId(value))
                        {
                            found.Add((field, value));
                        }

                        break;
                }

                property = null;
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: the upstream answers that; what was found before stays checked.
        }

        return found;
    }

    private static bool MayRefer(ReadOnlySpan<byte> json)
    {
        foreach (var marker in s_markers)
        {
            if (json.IndexOf(marker) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private static bool NamesIds(string name) =>
        name.EndsWith("_id", StringComparison.Ordinal) || name.EndsWith("_ids", StringComparison.Ordinal)
        || name is "conversation" or "training_file" or "validation_file" or "container" or "model";
}

namespace OpenAiRelay.Isolation;

/// <summary>
/// One family of stored upstream objects: its collection path under <c>/v1</c>, the name OpenAI's "No such ..."
/// errors give it, and the words after the collection that are verbs rather than ids.
/// </summary>
internal sealed class ObjectFamily
{
    private readonly string[] _literals;

    private ObjectFamily(string collection, string noun, string prefix, params string[] literals)
    {
        Collection = collection;
        Noun = noun;
        Prefix = prefix;
        _literals = literals;
    }

    /// <summary>Every family, longest collection first so <c>fine_tuning/jobs</c> is not read as a shorter one.</summary>
    public static IReadOnlyList<ObjectFamily> All { get; } =
    [
        new("fine_tuning/jobs", "FineTuningJob", "ftjob-"),
        new("chat/completions", "ChatCompletion", "chatcmpl-"),
        new("vector_stores", "VectorStore", "vs_"),
        new("conversations", "Conversation", "conv_"),
        new("containers", "Container", "cntr_"),
        new("assistants", "Assistant", "asst_"),
        new("responses", "Response", "resp_", "input_tokens", "compact"),
        new("batches", "Batch", "batch_"),
        new("uploads", "Upload", "upload_"),
        new("threads", "Thread", "thread_", "runs"),
        new("videos", "Video", "video_"),
        new("evals", "Eval", "eval_"),
        new("files", "File", "file-"),
    ];

    /// <summary>The collection's path under <c>/v1</c>, without slashes at either end.</summary>
    public string Collection { get; }

    /// <summary>How OpenAI names one in its errors: <c>No such File object: file-abc</c>.</summary>
    public string Noun { get; }

    /// <summary>How the ids of this family begin (<c>file-</c>, <c>vs_</c>).</summary>
    public string Prefix { get; }

    /// <summary>True for an id of this family.</summary>
    public bool Owns(string id) => id.StartsWith(Prefix, StringComparison.Ordinal);

    public bool IsLiteral(ReadOnlySpan<char> segment)
    {
        foreach (var literal in _literals)
        {
            if (segment.SequenceEqual(literal))
            {
                return true;
            }
        }

        return false;
    }
}

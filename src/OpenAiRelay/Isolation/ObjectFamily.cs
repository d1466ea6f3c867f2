namespace OpenAiRelay.Isolation;

/// <summary>
/// One family of stored upstream objects: its collection path under <c>/v1</c>, the name OpenAI's "No such ..."
/// errors give it, and the words after the collection that are verbs rather than ids.
/// </summary>
internal sealed class ObjectFamily
{
    private readonly string[] _literals;

    private ObjectFamily(string collection, string noun, string prefix, string? listed = null, params string[] literals)
    {
        Collection = collection;
        Noun = noun;
        Prefix = prefix;
        Listed = listed;
        _literals = literals;
    }

    /// <summary>Every family, longest collection first so <c>fine_tuning/jobs</c> is not read as a shorter one.</summary>
    public static IReadOnlyList<ObjectFamily> All { get; } =
    [
        new("fine_tuning/jobs", "FineTuningJob", "ftjob-", "fine_tuning.job"),
        new("chat/completions", "ChatCompletion", "chatcmpl-", "chat.completion") { OldestFirst = true, Filters = ["model"] },
        new("vector_stores", "VectorStore", "vs_", "vector_store"),
        new("conversations", "Conversation", "conv_"),
        new("containers", "Container", "cntr_", "container"),
        new("assistants", "Assistant", "asst_", "assistant"),
        new("responses", "Response", "resp_", null, "input_tokens", "compact"),
        new("batches", "Batch", "batch_", "batch"),
        new("uploads", "Upload", "upload_"),
        new("threads", "Thread", "thread_", null, "runs"),
        new("videos", "Video", "video_", "video"),
        new("evals", "Eval", "eval_", "eval"),
        new("files", "File", "file-", "file") { Filters = ["purpose"], DefaultLimit = 10_000, MaxLimit = 10_000 },
    ];

    /// <summary>The collection's path under <c>/v1</c>, without slashes at either end.</summary>
    public string Collection { get; }

    /// <summary>How OpenAI names one in its errors: <c>No such File object: file-abc</c>.</summary>
    public string Noun { get; }

    /// <summary>
    /// The <c>object</c> of this family's items when it has a list endpoint (<c>GET /v1/files</c>): a key's list is
    /// served from its own recorded objects of that kind. Null for a family the API does not list.
    /// </summary>
    public string? Listed { get; }

    /// <summary>Lists oldest first unless the client asks (<c>GET /v1/chat/completions</c>, as OpenAI).</summary>
    public bool OldestFirst { get; private init; }

    /// <summary>A page's size when the client sets no <c>limit</c> (OpenAI's: 20, files 10,000).</summary>
    public int DefaultLimit { get; private init; } = 20;

    /// <summary>The largest <c>limit</c> honoured (OpenAI's: 100, files 10,000).</summary>
    public int MaxLimit { get; private init; } = 100;

    /// <summary>Query parameters that filter the list by an equal top-level field of the object (<c>purpose</c>).</summary>
    public IReadOnlyList<string> Filters { get; private init; } = [];

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

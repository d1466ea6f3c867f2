namespace OpenAiRelay.Isolation;

/// <summary>
/// One family of stored upstream objects: its collection path under <c>/v1</c>, how OpenAI words a missing one, the
/// prefix of its ids, what its list holds, and the words after the collection that are verbs rather than ids.
/// </summary>
internal sealed class ObjectFamily
{
    private readonly string[] _literals;

    private readonly Func<string, string> _missing;

    private ObjectFamily(string collection, Func<string, string> missing, string prefix, string? listed = null, params string[] literals)
    {
        Collection = collection;
        _missing = missing;
        Prefix = prefix;
        Listed = listed;
        _literals = literals;
    }

    // Longest collection first, so fine_tuning/jobs is not read as a shorter one.
    private static readonly ObjectFamily[] s_all =
    [
        new("fine_tuning/jobs", Named("fine-tuning job"), "ftjob-", "fine_tuning.job"),
        new("chat/completions", Legacy, "chatcmpl-", "chat.completion") { OldestFirst = true, Filters = ["model"] },
        new("vector_stores", Named("vector store"), "vs_", "vector_store"),
        new("conversations", static id => $"Conversation with id '{id}' not found.", "conv_"),
        new("containers", Named("container"), "cntr_", "container"),
        new("assistants", Named("assistant"), "asst_", "assistant"),
        new("responses", Legacy, "resp_", null, "input_tokens", "compact"),
        new("batches", Named("batch"), "batch_", "batch"),
        new("uploads", Named("upload"), "upload_"),
        new("threads", Named("thread"), "thread_", null, "runs"),
        new("videos", Named("video"), "video_", "video"),
        new("evals", Named("eval"), "eval_", "eval"),
        new("files", static id => $"No such File object: {id}", "file-", "file") { Filters = ["purpose"], DefaultLimit = 10_000, MaxLimit = 10_000 },

        // Families whose ids have no prefix the relay knows: every id after the collection is an object, recorded from
        // its create; ChatKit threads are made by a ChatKit session outside the relay, so they belong to no key.
        new("skills", Named("skill"), string.Empty, "skill"),
        new("chatkit/threads", Named("thread"), string.Empty, "chatkit.thread"),

        // Only fine-tuned models are objects a key owns (a job's fine_tuned_model); the base models are everyone's.
        new("models", static id => $"The model '{id}' does not exist or you do not have access to it.", "ft:") { OnlyOwnIds = true, MissingCode = "model_not_found" },
    ];

    /// <summary>Every family, longest collection first (a span: walking it allocates nothing on the request path).</summary>
    public static ReadOnlySpan<ObjectFamily> All => s_all;

    /// <summary>True when <paramref name="kind"/> (an object's <c>object</c>) is what some family's list holds.</summary>
    public static bool IsListed(string kind)
    {
        foreach (var family in s_all)
        {
            if (family.Listed == kind)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The collection's path under <c>/v1</c>, without slashes at either end.</summary>
    public string Collection { get; }

    /// <summary>OpenAI's 404 message for an id of this family it does not have: <c>No such File object: file-abc</c>.</summary>
    public string Missing(string id) => _missing(id);

    /// <summary>
    /// The <c>object</c> of this family's items when it has a list endpoint (<c>GET /v1/files</c>): a key's list is
    /// served from its own recorded objects of that kind. Null for a family the API does not list.
    /// </summary>
    public string? Listed { get; }

    /// <summary>Lists oldest first unless the client asks (<c>GET /v1/chat/completions</c>, as OpenAI).</summary>
    public bool OldestFirst { get; private init; }

    /// <summary>A path names an object of this family only when the id has its prefix (<c>/v1/models/ft:...</c>).</summary>
    public bool OnlyOwnIds { get; private init; }

    /// <summary>The <c>code</c> of OpenAI's 404 for a missing one (<c>model_not_found</c> for models).</summary>
    public string MissingCode { get; private init; } = "not_found";

    /// <summary>A page's size when the client sets no <c>limit</c> (OpenAI's: 20, files 10,000).</summary>
    public int DefaultLimit { get; private init; } = 20;

    /// <summary>The largest <c>limit</c> honoured (OpenAI's: 100, files 10,000).</summary>
    public int MaxLimit { get; private init; } = 100;

    /// <summary>Query parameters that filter the list by an equal top-level field of the object (<c>purpose</c>).</summary>
    public IReadOnlyList<string> Filters { get; private init; } = [];

    /// <summary>How the ids of this family begin (<c>file-</c>, <c>vs_</c>).</summary>
    public string Prefix { get; }

    /// <summary>True for an id of this family.</summary>
    public bool Owns(string id) => Prefix.Length > 0 && id.StartsWith(Prefix, StringComparison.Ordinal);

    public bool IsLiteral(ReadOnlySpan<char> segment)
    {
        foreach (var literal in _literals)
        {
            if (segment.Equals(literal, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    // The wording of the upstream's own 404s, as the fake upstream models them (test/FakeOpenAi/Stored/Families.cs).
    private static string Legacy(string id) => $"No object found with id '{id}'.";

    private static Func<string, string> Named(string name) => id => $"No {name} found with id '{id}'.";
}

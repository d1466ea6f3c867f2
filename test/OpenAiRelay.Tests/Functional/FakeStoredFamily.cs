using System.Net;
using System.Text.Json;

namespace OpenAiRelay.Tests.Functional;

/// <summary>
/// The fake's stored-object families as a client sees them: where each one's collection lives (creating parents
/// first), how to create one object, and what OpenAI calls it. Drives <see cref="FakeStoredObjectsTests"/>.
/// </summary>
public sealed record FakeStoredFamily(
    string Name,
    string ObjectType,
    string IdPrefix,
    Func<FakeStoredApi, Task<string>> Collection,
    Func<FakeStoredApi, string, Task<JsonElement>> Create)
{
    public bool Listable { get; init; } = true;

    public string? DeletedObject { get; init; }

    public string DeletedIdField { get; init; } = "id";

    public bool AscendingByDefault { get; init; }

    /// <summary>Null for conversation items, which carry no timestamp; chat completions use <c>created</c>.</summary>
    public string? CreatedField { get; init; } = "created_at";

    /// <summary>Conversation items name their kind in <c>type</c>, not <c>object</c>.</summary>
    public string ObjectField { get; init; } = "object";

    public static readonly IReadOnlyDictionary<string, FakeStoredFamily> All = new[]
    {
        new FakeStoredFamily("files", "file", "file-", Top("files"), (api, c) => api.PostMultipartAsync(c, ("purpose", "assistants"), ("file", "notes.txt", 11)))
        {
            DeletedObject = "file",
        },
        new FakeStoredFamily("batches", "batch", "batch_", Top("batches"), Json("""{"input_file_id":"file-in","endpoint":"/v1/chat/completions","completion_window":"24h"}""")),
        new FakeStoredFamily("vector_stores", "vector_store", "vs_", Top("vector_stores"), Json("""{"name":"docs"}""")) { DeletedObject = "vector_store.deleted" },
        new FakeStoredFamily(
            "vector_store_files",
            "vector_store.file",
            "file-",
            async api => $"vector_stores/{await api.CreateIdAsync("vector_stores", "{}")}/files",
            (api, c) => api.PostJsonAsync(c, $$"""{"file_id":"file-{{Guid.NewGuid():N}}"}"""))
        {
            DeletedObject = "vector_store.file.deleted",
        },
        new FakeStoredFamily("conversations", "conversation", "conv_", Top("conversations"), Json("""{"metadata":{"k":"v"}}"""))
        {
            Listable = false,
            DeletedObject = "conversation.deleted",
        },
        new FakeStoredFamily(
            "conversation_items",
            "message",
            "msg_",
            async api => $"conversations/{await api.CreateIdAsync("conversations", "{}")}/items",
            async (api, c) => (await api.PostJsonAsync(c, """{"items":[{"type":"message","role":"user","content":"hi"}]}""")).GetProperty("data")[0])
        {
            DeletedObject = "conversation",
            CreatedField = null,
            ObjectField = "type",
        },
        new FakeStoredFamily("responses", "response", "resp_", Top("responses"), Json("""{"model":"gpt-4o-mini","input":"hi"}"""))
        {
            Listable = false,
            DeletedObject = "response.deleted",
        },
        new FakeStoredFamily("chat_completions", "chat.completion", "chatcmpl-", Top("chat/completions"), Json("""{"model":"gpt-4o-mini","store":true,"messages":[{"role":"user","content":"hi"}]}"""))
        {
            DeletedObject = "chat.completion.deleted",
            AscendingByDefault = true,
            CreatedField = "created",
        },
        new FakeStoredFamily("assistants", "assistant", "asst_", Top("assistants"), Json("""{"model":"gpt-4o"}""")) { DeletedObject = "assistant.deleted" },
        new FakeStoredFamily("threads", "thread", "thread_", Top("threads"), Json("{}")) { Listable = false, DeletedObject = "thread.deleted" },
        new FakeStoredFamily(
            "thread_messages",
            "thread.message",
            "msg_",
            async api => $"threads/{await api.CreateIdAsync("threads", "{}")}/messages",
            Json("""{"role":"user","content":"hi"}"""))
        {
            DeletedObject = "thread.message.deleted",
        },
        new FakeStoredFamily(
            "runs",
            "thread.run",
            "run_",
            async api => $"threads/{await api.CreateIdAsync("threads", "{}")}/runs",
            Json("""{"assistant_id":"asst_fake"}""")),
        new FakeStoredFamily("fine_tuning_jobs", "fine_tuning.job", "ftjob-", Top("fine_tuning/jobs"), Json("""{"model":"gpt-4o-mini","training_file":"file-train"}""")),
        new FakeStoredFamily("evals", "eval", "eval_", Top("evals"), Json("""{"name":"e"}""", HttpStatusCode.Created)) { DeletedObject = "eval.deleted", DeletedIdField = "eval_id" },
        new FakeStoredFamily(
            "eval_runs",
            "eval.run",
            "evalrun_",
            async api => $"evals/{await api.CreateIdAsync("evals", "{}", HttpStatusCode.Created)}/runs",
            Json("""{"name":"r"}""", HttpStatusCode.Created))
        {
            DeletedObject = "eval.run.deleted",
            DeletedIdField = "run_id",
        },
        new FakeStoredFamily("containers", "container", "cntr_", Top("containers"), Json("""{"name":"c"}""")) { DeletedObject = "container.deleted" },
        new FakeStoredFamily(
            "container_files",
            "container.file",
            "cfile_",
            async api => $"containers/{await api.CreateIdAsync("containers", """{"name":"c"}""")}/files",
            (api, c) => api.PostMultipartAsync(c, ("file", "data.csv", 300)))
        {
            DeletedObject = "container.file.deleted",
        },
        new FakeStoredFamily("videos", "video", "video_", Top("videos"), Json("""{"prompt":"a cat","model":"sora-2"}""")) { DeletedObject = "video.deleted" },
    }.ToDictionary(f => f.Name);

    public override string ToString() => Name;

    private static Func<FakeStoredApi, Task<string>> Top(string path) => _ => Task.FromResult(path);

    private static Func<FakeStoredApi, string, Task<JsonElement>> Json(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        (api, c) => api.PostJsonAsync(c, body, status);
}

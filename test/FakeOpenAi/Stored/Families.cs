namespace FakeOpenAi.Stored;

/// <summary>
/// The families the fake stores, with OpenAI's id prefixes and object names. 404 wording follows OpenAI where it is
/// known (files: <c>No such File object: file-x</c>, param <c>id</c>); elsewhere <c>No X found with id 'x'.</c>.
/// </summary>
internal static class Families
{
    public static readonly ObjectFamily Files = new("files", "file", "file-", id => $"No such File object: {id}")
    {
        IdLength = 22,
        DeletedObject = "file",
        NotFoundParam = "id",

        // OpenAI lists files up to 10,000 at a time and defaults to all of them.
        DefaultLimit = 10_000,
        MaxLimit = 10_000,
    };

    public static readonly ObjectFamily Uploads = new("uploads", "upload", "upload_", Named("upload"));

    public static readonly ObjectFamily UploadParts = new("upload_parts", "upload.part", "part_", Named("upload part"));

    public static readonly ObjectFamily Batches = new("batches", "batch", "batch_", Named("batch"));

    // Kept as they were before the families existed: the relay's tests read these bodies.
    public static readonly ObjectFamily Responses = new("responses", "response", "resp_", Legacy) { DeletedObject = "response.deleted", HexId = true, IdLength = 48 };

    public static readonly ObjectFamily ResponseInputItems = new("response_input_items", "message", "msg_", Named("input item")) { HexId = true, IdLength = 48 };

    public static readonly ObjectFamily ChatCompletions = new("chat_completions", "chat.completion", "chatcmpl-", Legacy) { IdLength = 29, AscendingByDefault = true };

    public static readonly ObjectFamily ChatMessages = new("chat_messages", "chat.completion.message", "chatcmpl-", Named("message")) { AscendingByDefault = true };

    public static readonly ObjectFamily VectorStores = new("vector_stores", "vector_store", "vs_", Named("vector store"));

    public static readonly ObjectFamily VectorStoreFiles = new("vector_store_files", "vector_store.file", "file-", Named("file"));

    public static readonly ObjectFamily VectorStoreFileBatches = new("vector_store_file_batches", "vector_store.files_batch", "vsfb_", Named("file batch"));

    public static readonly ObjectFamily Conversations = new("conversations", "conversation", "conv_", id => $"Conversation with id '{id}' not found.") { HexId = true, IdLength = 48 };

    public static readonly ObjectFamily ConversationItems = new("conversation_items", "message", "msg_", id => $"Item with id '{id}' not found.") { HexId = true, IdLength = 48 };

    public static readonly ObjectFamily Assistants = new("assistants", "assistant", "asst_", Named("assistant"));

    public static readonly ObjectFamily Threads = new("threads", "thread", "thread_", Named("thread"));

    public static readonly ObjectFamily ThreadMessages = new("thread_messages", "thread.message", "msg_", Named("message")) { DeletedObject = "thread.message.deleted" };

    public static readonly ObjectFamily Runs = new("runs", "thread.run", "run_", Named("run"));

    public static readonly ObjectFamily RunSteps = new("run_steps", "thread.run.step", "step_", Named("run step"));

    public static readonly ObjectFamily FineTuningJobs = new("fine_tuning_jobs", "fine_tuning.job", "ftjob-", Named("fine-tuning job"));

    public static readonly ObjectFamily FineTuningEvents = new("fine_tuning_events", "fine_tuning.job.event", "ftevent-", Named("event"));

    public static readonly ObjectFamily FineTuningCheckpoints = new("fine_tuning_checkpoints", "fine_tuning.job.checkpoint", "ftckpt_", Named("checkpoint"));

    public static readonly ObjectFamily Evals = new("evals", "eval", "eval_", Named("eval")) { IdLength = 32, DeletedIdField = "eval_id" };

    public static readonly ObjectFamily EvalRuns = new("eval_runs", "eval.run", "evalrun_", Named("eval run")) { IdLength = 32, DeletedIdField = "run_id" };

    public static readonly ObjectFamily EvalOutputItems = new("eval_output_items", "eval.run.output_item", "outputitem_", Named("output item")) { IdLength = 32 };

    public static readonly ObjectFamily Containers = new("containers", "container", "cntr_", Named("container")) { HexId = true, IdLength = 48 };

    public static readonly ObjectFamily ContainerFiles = new("container_files", "container.file", "cfile_", Named("container file")) { HexId = true, IdLength = 48 };

    public static readonly ObjectFamily Videos = new("videos", "video", "video_", Named("video")) { HexId = true, IdLength = 48 };

    private static string Legacy(string id) => $"No object found with id '{id}'.";

    private static Func<string, string> Named(string name) => id => $"No {name} found with id '{id}'.";
}

using FakeOpenAi.Endpoints;
using FakeOpenAi.Stored.Routes;

namespace FakeOpenAi.Stored;

/// <summary>Routes <c>/v1/…</c> paths of the stored-object families, each family's routes in its own small file.</summary>
internal static class StoredRouter
{
    public static Task? Route(string method, string rest, FakeExchange x)
    {
        var call = new StoredCall(method, rest.Split('/'), x);
        if (call.Path.Any(segment => segment.Length == 0))
        {
            return null;
        }

        return call.Path[0] switch
        {
            "uploads" => UploadRoutes.Route(call),
            "batches" => BatchRoutes.Route(call),
            "responses" => ResponseRoutes.Route(call),
            "chat" => ChatCompletionRoutes.Route(call),
            "vector_stores" => VectorStoreRoutes.Route(call),
            "conversations" => ConversationRoutes.Route(call),
            "assistants" => AssistantRoutes.Route(call),
            "threads" => ThreadRoutes.Route(call),
            "fine_tuning" => FineTuningRoutes.Route(call),
            "evals" => EvalRoutes.Route(call),
            "containers" => ContainerRoutes.Route(call),
            "videos" => VideoRoutes.Route(call),
            _ => null,
        };
    }
}

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The OpenTelemetry GenAI <c>gen_ai.operation.name</c> of a relayed request, in the well-known values of the semantic
/// conventions; null for requests that are not a model operation (files, lists, batches), which get only the
/// relay's own metrics.
/// </summary>
internal static class GenAiOperation
{
    /// <summary><c>gen_ai.provider.name</c>: the relay speaks OpenAI's API to its upstream.</summary>
    public const string Provider = "openai";

    public const string Chat = "chat";
    public const string TextCompletion = "text_completion";
    public const string Embeddings = "embeddings";
    public const string GenerateContent = "generate_content";

    /// <summary>A read of a stored response (<c>GET /v1/responses/{id}</c>): no token usage is reported for it.</summary>
    public const string FetchResponse = "fetch_response";

    public static string? Of(RelayRequestRecord record)
    {
        var path = record.Path.AsSpan();
        if (!path.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        path = path[4..];
        var post = HttpMethods.IsPost(record.Method);
        if (path.Equals("chat/completions", StringComparison.OrdinalIgnoreCase) && post)
        {
            return Chat;
        }

        if (path.Equals("responses", StringComparison.OrdinalIgnoreCase))
        {
            return post ? Chat : null;
        }

        if (path.StartsWith("responses/", StringComparison.OrdinalIgnoreCase))
        {
            var rest = path["responses/".Length..];
            return HttpMethods.IsGet(record.Method) && rest.IndexOf('/') < 0 ? FetchResponse : null;
        }

        if (path.Equals("completions", StringComparison.OrdinalIgnoreCase) && post)
        {
            return TextCompletion;
        }

        if (path.Equals("embeddings", StringComparison.OrdinalIgnoreCase) && post)
        {
            return Embeddings;
        }

        // A Realtime session is a conversation with the model, over a WebSocket.
        if (path.Equals("realtime", StringComparison.OrdinalIgnoreCase) && record.Stream == Pipeline.ResponseStreamKind.WebSocket)
        {
            return Chat;
        }

        if (post && (path.StartsWith("audio/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("images/", StringComparison.OrdinalIgnoreCase)))
        {
            return GenerateContent;
        }

        return null;
    }
}

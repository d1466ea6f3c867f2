namespace OpenAiRelay.Configuration;

/// <summary>Request body limits per endpoint family. Bodies are streamed, so a limit costs no memory.</summary>
internal sealed class BodyLimitOptions
{
    /// <summary>JSON endpoints (chat with base64 images, responses, embeddings) and audio uploads.</summary>
    public long DefaultMaxRequestBodySize { get; set; } = 64L * 1024 * 1024;

    /// <summary><c>/v1/files</c> and <c>/v1/uploads</c>: OpenAI accepts files up to 512 MB.</summary>
    public long FilesMaxRequestBodySize { get; set; } = 512L * 1024 * 1024;
}

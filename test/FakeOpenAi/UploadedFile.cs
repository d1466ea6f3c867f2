namespace FakeOpenAi;

/// <summary>
/// What the fake kept of a <c>POST /v1/files</c> upload: its size and hash, never its bytes, so a 100 MB upload
/// costs no memory. Tests compare <see cref="Sha256"/> with what they sent through the relay.
/// </summary>
public sealed record UploadedFile(string Id, string FileName, string Purpose, long Bytes, string Sha256, DateTimeOffset CreatedAt);

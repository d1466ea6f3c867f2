namespace FakeOpenAi.Stored;

/// <summary>A part of a <c>/v1/uploads</c> Upload: its size and hash, never its bytes (like <see cref="UploadedFile"/>).</summary>
internal sealed record UploadPart(string Id, string UploadId, long CreatedAt, long Bytes, string Sha256);

namespace FakeOpenAi.Wire;

/// <summary>A file part as received: its size and SHA-256, never its bytes.</summary>
internal sealed record MultipartFile(string Name, string FileName, string? ContentType, long Length, string Sha256);

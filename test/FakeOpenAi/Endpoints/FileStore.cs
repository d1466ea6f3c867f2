using System.Globalization;
using FakeOpenAi.Stored;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// Uploaded files by id (metadata and hash only), in a <see cref="StoredCollection{T}"/> so lists paginate as
/// OpenAI's do. Uploads completed through <c>/v1/uploads</c> and batch output files land here too.
/// </summary>
internal sealed class FileStore
{
    /// <summary>Ids of this form need no upload: their content is <c>N</c> bytes of <see cref="FakeContent"/>.</summary>
    public const string SizedIdPrefix = "file-size-";

    private readonly StoredCollection<UploadedFile> _files = new();

    /// <summary>Newest first, as <c>GET /v1/files</c> lists them by default.</summary>
    public IReadOnlyList<UploadedFile> All => _files.All(string.Empty, ascending: false);

    public void Add(UploadedFile file) => _files.Add(string.Empty, file.Id, file.CreatedAt.ToUnixTimeSeconds(), file);

    public bool Remove(string id) => _files.Remove(string.Empty, id) is not null;

    public UploadedFile? Get(string id) => _files.Get(string.Empty, id);

    public ListPage<UploadedFile> List(ListQuery query, string? purpose) =>
        _files.List(string.Empty, query, purpose is null ? null : f => f.Purpose == purpose);

    public static long? SizeFromId(string id) =>
        id.StartsWith(SizedIdPrefix, StringComparison.Ordinal)
        && long.TryParse(id.AsSpan(SizedIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            ? size
            : null;
}

using System.Collections.Concurrent;
using System.Globalization;

namespace FakeOpenAi.Endpoints;

/// <summary>Uploaded files by id (metadata and hash only).</summary>
internal sealed class FileStore
{
    /// <summary>Ids of this form need no upload: their content is <c>N</c> bytes of <see cref="FakeContent"/>.</summary>
    public const string SizedIdPrefix = "file-size-";

    private readonly ConcurrentDictionary<string, UploadedFile> _files = new(StringComparer.Ordinal);

    public IReadOnlyList<UploadedFile> All => [.. _files.Values.OrderByDescending(f => f.CreatedAt).ThenBy(f => f.Id, StringComparer.Ordinal)];

    public void Add(UploadedFile file) => _files[file.Id] = file;

    public bool Remove(string id) => _files.TryRemove(id, out _);

    public UploadedFile? Get(string id) => _files.GetValueOrDefault(id);

    public static long? SizeFromId(string id) =>
        id.StartsWith(SizedIdPrefix, StringComparison.Ordinal)
        && long.TryParse(id.AsSpan(SizedIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            ? size
            : null;
}

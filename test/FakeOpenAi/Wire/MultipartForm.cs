using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace FakeOpenAi.Wire;

/// <summary>
/// A <c>multipart/form-data</c> body read section by section with <see cref="MultipartReader"/>: text fields are
/// kept, file parts are only counted and hashed through a pooled buffer, so a 100 MB upload costs 64 KiB.
/// </summary>
internal sealed class MultipartForm
{
    private MultipartForm()
    {
    }

    public Dictionary<string, string> Fields { get; } = new(StringComparer.Ordinal);

    public List<MultipartFile> Files { get; } = [];

    public MultipartFile? File(string name) => Files.Find(f => f.Name == name) ?? (Files.Count > 0 ? Files[0] : null);

    /// <summary>Null when the request is not multipart/form-data.</summary>
    public static async Task<MultipartForm?> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            return null;
        }

        var form = new MultipartForm();
        var reader = new MultipartReader(boundary, request.Body);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? string.Empty;
                if (disposition.IsFileDisposition())
                {
                    form.Files.Add(await HashFileAsync(name, disposition, section, buffer, cancellationToken));
                }
                else
                {
                    using var text = new StreamReader(section.Body, Encoding.UTF8);
                    form.Fields[name] = await text.ReadToEndAsync(cancellationToken);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return form;
    }

    private static async Task<MultipartFile> HashFileAsync(
        string name,
        ContentDispositionHeaderValue disposition,
        MultipartSection section,
        byte[] buffer,
        CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        int read;
        while ((read = await section.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }

        var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
        return new MultipartFile(name, fileName ?? "upload", section.ContentType, length, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }
}

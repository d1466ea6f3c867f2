using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace OpenAiRelay.AdminConsole;

/// <summary>
/// The console's pages, scripts and styles, embedded in the executable (AdminConsole/wwwroot, see the csproj): nothing
/// is fetched from a CDN, nothing is read from the disk at run time, and what is served is exactly what was built and
/// tested. Each file is read once at start-up with a strong ETag of its content.
/// </summary>
internal sealed class ConsoleAssets
{
    public const string ResourcePrefix = "AdminConsole.wwwroot/";

    /// <summary>What the sign-in page needs before there is a session; every other file needs one.</summary>
    private static readonly FrozenSet<string> s_public = FrozenSet.Create(
        StringComparer.Ordinal, "login.html", "assets/login.js", "assets/i18n.js", "assets/console.css", "assets/favicon.svg");

    private readonly FrozenDictionary<string, ConsoleAsset> _assets;

    public ConsoleAssets()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var assets = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var path = name[ResourcePrefix.Length..];
            assets[path] = Load(assembly, name, path);
        }

        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IEnumerable<string> Paths => _assets.Keys;

    /// <summary>The file at <paramref name="path"/> (relative to wwwroot, such as <c>assets/app.js</c>), or null.</summary>
    public ConsoleAsset? Find(string path) => _assets.GetValueOrDefault(path);

    private static ConsoleAsset Load(Assembly assembly, string resource, string path)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var content = buffer.ToArray();
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"";
        return new ConsoleAsset(content, ContentType(path), etag, s_public.Contains(path));
    }

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".woff2" => "font/woff2",
        ".json" => "application/json; charset=utf-8",
        _ => "application/octet-stream",
    };
}

/// <summary>One embedded file. <see cref="Public"/>: served without a session (the sign-in page and what it loads).</summary>
internal sealed record ConsoleAsset(byte[] Content, string ContentType, string ETag, bool Public);

using System.Text.RegularExpressions;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// <c>.dockerignore</c> patterns (Go filepath.Match plus <c>**</c>, relative to the context root; a matched folder
/// excludes everything in it). Exceptions (<c>!pattern</c>) are not supported, and a file that uses them fails loudly.
/// </summary>
public sealed class DockerIgnore
{
    private readonly List<Regex> _patterns;

    private DockerIgnore(List<Regex> patterns) => _patterns = patterns;

    public static DockerIgnore Load(string path)
    {
        var patterns = new List<Regex>();
        foreach (var raw in File.Exists(path) ? File.ReadAllLines(path) : [])
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            Assert.False(line.StartsWith('!'), $"{path}: exception patterns ('{line}') are not understood by this test; extend DockerIgnore");
            var pattern = line.Trim('/');
            var regex = "^" + Regex.Escape(pattern)
                .Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal)
                .Replace(@"/\*\*", "(/.*)?", StringComparison.Ordinal)
                .Replace(@"\*", "[^/]*", StringComparison.Ordinal)
                .Replace(@"\?", "[^/]", StringComparison.Ordinal) + "$";
            patterns.Add(new Regex(regex, RegexOptions.CultureInvariant));
        }

        return new DockerIgnore(patterns);
    }

    /// <summary>Whether <paramref name="relativePath"/> (with '/' separators) or a folder above it is excluded.</summary>
    public bool IsExcluded(string relativePath)
    {
        var parts = relativePath.Split('/');
        for (var i = 1; i <= parts.Length; i++)
        {
            var prefix = string.Join('/', parts.Take(i));
            if (_patterns.Any(p => p.IsMatch(prefix)))
            {
                return true;
            }
        }

        return false;
    }
}

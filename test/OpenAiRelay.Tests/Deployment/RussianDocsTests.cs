using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// README.ru.md and docs/deploy.ru.md, written for the reader of the old Russian deployment guide, kept in step with
/// README.md and docs/deploy.md: every command of the English file's code blocks, every environment variable and every
/// <c>Relay__</c> setting it names are in the Russian file too; the two languages link to each other; and every
/// relative link of a Russian file points to a file that exists (and to a heading of it, for a #fragment). Comments inside code blocks may be translated,
/// command text may not.
/// </summary>
public sealed partial class RussianDocsTests
{
    public static TheoryData<string, string> Pairs => new()
    {
        { "README.md", "README.ru.md" },
        { "docs/deploy.md", "docs/deploy.ru.md" },
    };

    public static TheoryData<string> RussianFiles => new() { "README.ru.md", "docs/deploy.ru.md" };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void EveryCommandOfTheEnglishCodeBlocks_IsInTheRussianCodeBlocks(string english, string russian)
    {
        var englishLines = CodeLines(Read(english)).ToList();
        Assert.NotEmpty(englishLines);
        var russianLines = CodeLines(Read(russian)).ToHashSet(StringComparer.Ordinal);
        var missing = englishLines.Where(line => !russianLines.Contains(line)).Distinct(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{russian} lacks these code lines of {english} (translate the comments, keep the commands):\n" + string.Join('\n', missing));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void EveryVariableAndSettingOfTheEnglishFile_IsInTheRussianFile(string english, string russian)
    {
        var englishText = Read(english);
        var russianText = Read(russian);
        var names = Names(englishText).ToList();
        Assert.Contains("OPENAI_API_KEY", names);
        var present = Names(russianText).ToHashSet(StringComparer.Ordinal);
        var missing = names.Where(name => !present.Contains(name)).Distinct(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{russian} never mentions what {english} names: " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void TheTwoLanguages_LinkToEachOther(string english, string russian)
    {
        var englishLinks = Links(Read(english)).Select(link => Resolve(english, link)).ToList();
        var russianLinks = Links(Read(russian)).Select(link => Resolve(russian, link)).ToList();
        Assert.True(russianLinks.Contains(english, StringComparer.Ordinal), $"{russian} must link back to {english}");
        Assert.True(englishLinks.Contains(russian, StringComparer.Ordinal), $"{english} must link to {russian}");
    }

    [Theory]
    [MemberData(nameof(RussianFiles))]
    public void EveryRelativeLinkOfTheRussianFile_PointsToAFileThatExists(string russian)
    {
        var links = Links(Read(russian)).Where(link => !IsExternal(link) && !link.StartsWith('#')).ToList();
        Assert.NotEmpty(links);
        var broken = links
            .Where(link =>
            {
                var target = Path.Combine(RepositoryPaths.Root, Resolve(russian, link));
                return !File.Exists(target) && !Directory.Exists(target);
            })
            .ToList();
        Assert.True(broken.Count == 0, $"{russian} links to files that do not exist: " + string.Join(", ", broken));
    }

    [Theory]
    [MemberData(nameof(RussianFiles))]
    public void EveryAnchorOfTheRussianFile_NamesAHeadingOfItsTarget(string russian)
    {
        var anchored = Links(Read(russian)).Where(link => !IsExternal(link) && link.Contains('#', StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(anchored);
        var broken = anchored
            .Where(link =>
            {
                var target = Resolve(russian, link);
                return target.EndsWith(".md", StringComparison.Ordinal) && !Anchors(Read(target)).Contains(link[(link.IndexOf('#', StringComparison.Ordinal) + 1)..]);
            })
            .ToList();
        Assert.True(broken.Count == 0, $"{russian} links to headings that do not exist: " + string.Join(", ", broken));
    }

    /// <summary>The check itself: a Russian file that lost one English command block fails.</summary>
    [Fact]
    public void ARussianFileMissingACommandBlock_IsCaught()
    {
        var russian = Read("README.ru.md");
        const string Block = "```bash\n./test.sh\n```\n";
        Assert.Contains(Block, russian, StringComparison.Ordinal);
        var lines = CodeLines(russian.Replace(Block, "", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain("./test.sh", lines);
        Assert.Contains("./test.sh", CodeLines(Read("README.md")));
    }

    /// <summary>
    /// The lines of every fenced code block, trimmed, without blank lines and comments. In bash blocks a line whose first
    /// non-space character is <c>#</c> is a comment, and so is a trailing <c>  # ...</c> after two spaces. In a block
    /// without a language (a file tree, a diagram) the text after a gap of two or more spaces is a description, and a
    /// line indented eight spaces or more continues one; descriptions may be translated.
    /// </summary>
    internal static IEnumerable<string> CodeLines(string markdown)
    {
        foreach (var (language, body) in CodeBlocks(markdown))
        {
            foreach (var raw in body)
            {
                var line = raw;
                if (language.Length == 0)
                {
                    if (line.StartsWith("        ", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    line = DescriptionGap().Split(line.Trim(), 2)[0];
                }
                else if (IsShell(language))
                {
                    if (line.TrimStart().StartsWith('#'))
                    {
                        continue;
                    }

                    var comment = line.IndexOf("  #", StringComparison.Ordinal);
                    if (comment >= 0)
                    {
                        line = line[..comment];
                    }
                }

                line = line.Trim();
                if (line.Length > 0)
                {
                    yield return line;
                }
            }
        }
    }

    private static IEnumerable<(string Language, List<string> Body)> CodeBlocks(string markdown)
    {
        string? fence = null;
        var language = "";
        var body = new List<string>();
        foreach (var line in markdown.Split('\n'))
        {
            var trimmed = line.Trim();
            if (fence is null)
            {
                if (trimmed.StartsWith("```", StringComparison.Ordinal))
                {
                    fence = line[..line.IndexOf("```", StringComparison.Ordinal)];
                    language = trimmed[3..].Trim();
                    body = [];
                }
            }
            else if (trimmed == "```")
            {
                yield return (language, body);
                fence = null;
            }
            else
            {
                // A block inside a list item is indented as the item: that indentation is not the code's.
                body.Add(line.StartsWith(fence, StringComparison.Ordinal) ? line[fence.Length..] : line);
            }
        }
    }

    private static bool IsShell(string language) => language is "bash" or "sh" or "shell" or "console";

    /// <summary>The text outside code blocks and inside them, with the environment variables and settings it names.</summary>
    private static IEnumerable<string> Names(string markdown)
    {
        foreach (Match match in VariableName().Matches(markdown))
        {
            yield return match.Value;
        }

        foreach (Match match in SettingName().Matches(markdown))
        {
            yield return match.Value;
        }
    }

    /// <summary>The targets of the Markdown links outside code blocks.</summary>
    private static IEnumerable<string> Links(string markdown)
    {
        var prose = string.Join('\n', WithoutCodeBlocks(markdown));
        foreach (Match match in MarkdownLink().Matches(prose))
        {
            yield return match.Groups["target"].Value;
        }
    }

    private static IEnumerable<string> WithoutCodeBlocks(string markdown)
    {
        var inBlock = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.Trim().StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
            }
            else if (!inBlock)
            {
                yield return line;
            }
        }
    }

    /// <summary>The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in WithoutCodeBlocks(markdown))
        {
            var heading = HeadingLine().Match(line);
            if (heading.Success)
            {
                var slug = NotInAnchor().Replace(heading.Groups["text"].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-');
                var unique = slug;
                for (var n = 1; !anchors.Add(unique); n++)
                {
                    unique = slug + "-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return anchors;
    }

    private static bool IsExternal(string link) =>
        link.StartsWith("http://", StringComparison.Ordinal) || link.StartsWith("https://", StringComparison.Ordinal) || link.StartsWith("mailto:", StringComparison.Ordinal);

    /// <summary>A link's target as a path from the repository root, with '/' separators and without its #fragment.</summary>
    private static string Resolve(string fromFile, string link)
    {
        var hash = link.IndexOf('#', StringComparison.Ordinal);
        var path = hash >= 0 ? link[..hash] : link;
        if (path.Length == 0)
        {
            return fromFile;
        }

        var directory = Path.GetDirectoryName(Path.Combine(RepositoryPaths.Root, fromFile))!;
        var full = Path.GetFullPath(Path.Combine(directory, Uri.UnescapeDataString(path)));
        return Path.GetRelativePath(RepositoryPaths.Root, full).Replace('\\', '/');
    }

    private static string Read(string relativePath) =>
        File.ReadAllText(Path.Combine(RepositoryPaths.Root, relativePath)).Replace("\r\n", "\n", StringComparison.Ordinal);

    [GeneratedRegex(@"\b(?:(?:OPENAI|RELAY|DATABASE|REDIS|OTEL|PORT|BIND)_[A-Z0-9_]*|PORT)\b")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"\bRelay__[A-Za-z0-9_]+")]
    private static partial Regex SettingName();

    [GeneratedRegex(@"\[(?<text>[^\]\n]*)\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^#{1,6} (?<text>.+)$")]
    private static partial Regex HeadingLine();

    [GeneratedRegex(@"[^\p{L}\p{M}\p{N}\p{Pc} -]")]
    private static partial Regex NotInAnchor();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex DescriptionGap();
}

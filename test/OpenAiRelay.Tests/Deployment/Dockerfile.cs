using System.Text.Json;
using System.Text.RegularExpressions;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>One Dockerfile instruction, in the stage (the <c>FROM ... AS name</c>) it belongs to.</summary>
public sealed record DockerInstruction(string Stage, string Keyword, string Arguments)
{
    /// <summary>The arguments of an exec-form instruction (a JSON array), or null for shell form.</summary>
    public string[]? ExecForm(string? prefix = null)
    {
        var text = Arguments;
        if (prefix is not null)
        {
            if (!text.StartsWith(prefix, StringComparison.Ordinal))
            {
                return null;
            }

            text = text[prefix.Length..].TrimStart();
        }

        if (!text.StartsWith('['))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<string[]>(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// A Dockerfile read the way Docker reads it: comment lines dropped, continued lines (<c>\</c>) joined, every
/// instruction tagged with its stage. Enough to check and replay the project's own Dockerfile without an engine.
/// </summary>
public sealed partial class Dockerfile
{
    private Dockerfile(IReadOnlyList<DockerInstruction> instructions) => Instructions = instructions;

    public IReadOnlyList<DockerInstruction> Instructions { get; }

    /// <summary>The stage names in order (the last one is the image).</summary>
    public IReadOnlyList<string> Stages => Instructions.Select(i => i.Stage).Distinct().ToList();

    public static Dockerfile Parse(string path)
    {
        var instructions = new List<DockerInstruction>();
        var stage = string.Empty;
        var pending = string.Empty;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1].TrimEnd() + " ";
                continue;
            }

            var full = (pending + line).Trim();
            pending = string.Empty;
            if (full.Length == 0)
            {
                continue;
            }

            var space = full.IndexOf(' ', StringComparison.Ordinal);
            var keyword = full[..space].ToUpperInvariant();
            var arguments = full[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                stage = parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : "stage" + instructions.Count;
            }

            instructions.Add(new DockerInstruction(stage, keyword, arguments));
        }

        return new Dockerfile(instructions);
    }

    public IEnumerable<DockerInstruction> In(string stage, string keyword) =>
        Instructions.Where(i => i.Stage == stage && i.Keyword == keyword);

    public DockerInstruction Single(string stage, string keyword) => Assert.Single(In(stage, keyword));

    /// <summary>The variables a stage's <c>ENV</c> instructions set (<c>KEY=value</c> pairs, quotes removed, no expansion).</summary>
    public IReadOnlyDictionary<string, string> Environment(string stage)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var env in In(stage, "ENV"))
        {
            foreach (Match pair in EnvPair().Matches(env.Arguments))
            {
                var value = pair.Groups["value"].Value;
                environment[pair.Groups["key"].Value] = value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
            }
        }

        return environment;
    }

    [GeneratedRegex("""(?<key>[A-Za-z_][A-Za-z0-9_]*)=(?<value>"[^"]*"|\S*)""")]
    private static partial Regex EnvPair();
}

using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Architecture;

/// <summary>
/// The folders of src/OpenAiRelay depend on each other one way (docs/architecture.md draws the layers). A reference
/// is a <c>using OpenAiRelay.X;</c> or a qualified <c>X.Type</c> / <c>OpenAiRelay.X.Type</c> in code; comments are
/// stripped first so a cref or a remark does not count.
/// </summary>
public sealed partial class FolderDependencyTests
{
    private static readonly string s_source = Path.Combine(RepositoryPaths.Root, "src", "OpenAiRelay");

    /// <summary>The layers, lowest first: a folder may use folders of its own or a lower layer only.</summary>
    private static readonly string[][] s_layers =
    [
        ["Streams", "Errors", "Pipeline", "Policy", "Configuration"],
        ["Storage", "Pricing"],
        ["Authentication", "Ledger"],
        ["Limits", "Metering", "Isolation", "Forwarding"],
        ["Telemetry", "Admin", "AdminConsole"],
        ["Hosting"],
    ];

    [Fact]
    public void EveryFolder_IsInALayer()
    {
        var folders = Directory.GetDirectories(s_source).Select(Path.GetFileName).Where(name => name is not ("bin" or "obj")).ToHashSet();
        Assert.Equal(folders.Order(), s_layers.SelectMany(layer => layer).Order());
    }

    [Fact]
    public void Folders_DependOnlyDownwards_AndHaveNoCycles()
    {
        var layerOf = s_layers.SelectMany((layer, i) => layer.Select(folder => (folder, i))).ToDictionary(p => p.folder, p => p.i);
        var edges = Edges(layerOf.Keys.ToArray());
        var violations = edges
            .Where(edge => layerOf[edge.To] > layerOf[edge.From]
                || (layerOf[edge.To] == layerOf[edge.From] && edges.Contains((edge.To, edge.From))))
            .Select(edge => $"{edge.From} -> {edge.To}")
            .Order()
            .ToArray();
        Assert.Empty(violations);
    }

    [Fact]
    public void TheCheck_SeesAReference()
    {
        // The rule would pass vacuously if the scan found nothing: Hosting composes everything.
        var edges = Edges(s_layers.SelectMany(layer => layer).ToArray());
        Assert.Contains(("Hosting", "Forwarding"), edges);
        Assert.Contains(("Metering", "Pipeline"), edges);
    }

    private static HashSet<(string From, string To)> Edges(string[] folders)
    {
        var edges = new HashSet<(string, string)>();
        foreach (var from in folders)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(s_source, from), "*.cs", SearchOption.AllDirectories))
            {
                var code = Comments().Replace(File.ReadAllText(file), string.Empty);
                foreach (var to in folders.Where(to => to != from))
                {
                    if (code.Contains($"using OpenAiRelay.{to};", StringComparison.Ordinal)
                        || Regex.IsMatch(code, $@"(?<![\w.])(OpenAiRelay\.)?{to}\.[A-Z]\w*"))
                    {
                        edges.Add((from, to));
                    }
                }
            }
        }

        return edges;
    }

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comments();
}

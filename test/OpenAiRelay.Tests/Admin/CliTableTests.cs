using OpenAiRelay.Admin;

namespace OpenAiRelay.Tests.Admin;

/// <summary>The CLI's tables as a person and a pipe see them: one line per row, cells printed as typed.</summary>
public sealed class CliTableTests
{
    [Fact]
    public async Task MarkupInACell_PrintsAsTyped()
    {
        var output = new StringWriter();

        await CliTable.WriteAsync(output, ["NAME", "MODEL"], [["[red]alice[/]", "gpt-[bold]4o"], ["bob", "[link=https://evil]x[/]"]]);

        var text = output.ToString();
        Assert.Contains("[red]alice[/]", text);
        Assert.Contains("gpt-[bold]4o", text);
        Assert.Contains("[link=https://evil]x[/]", text);
        Assert.DoesNotContain("\u001b", text);
    }

    [Fact]
    public async Task LongRows_StayOnOneLineEach_WithAHeaderAndBorders()
    {
        var output = new StringWriter();
        var longName = new string('k', 60);
        var rows = Enumerable.Range(0, 3)
            .Select(i => (IReadOnlyList<string>)[$"{longName}{i}", "gpt-4o-mini-2024-07-18", "1,234,567", "$12.345678", "2026-12-05 10:00:00"])
            .ToList();

        await CliTable.WriteAsync(output, ["NAME", "MODEL", "TOKENS", "SPENT", "AT (UTC)"], rows, rightAligned: new HashSet<int> { 2, 3 });

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // Top border, header, separator, three rows, bottom border.
        Assert.Equal(7, lines.Length);
        Assert.StartsWith("╭", lines[0]);
        Assert.Contains("NAME", lines[1]);
        Assert.Contains("AT (UTC)", lines[1]);
        for (var i = 0; i < 3; i++)
        {
            var row = lines[3 + i];
            Assert.Contains($"{longName}{i}", row);
            Assert.Contains("2026-12-05 10:00:00", row);
        }

        Assert.StartsWith("╰", lines[6]);
        // Right-aligned numbers end at their column's edge.
        Assert.Contains("1,234,567 │", lines[3]);
    }

    [Fact]
    public async Task NoRows_StillPrintsTheHeader()
    {
        var output = new StringWriter();

        await CliTable.WriteAsync(output, ["ID", "KIND"], []);

        Assert.Contains("ID", output.ToString());
        Assert.Contains("KIND", output.ToString());
    }
}

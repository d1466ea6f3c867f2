using Spectre.Console;
using Spectre.Console.Rendering;

namespace OpenAiRelay.Admin;

/// <summary>
/// The CLI's tables (<c>keys list</c>, <c>usage</c>, <c>audit</c>, <c>objects list</c>, <c>check</c>), rendered by
/// Spectre.Console into the invocation's writer. Every cell is plain <see cref="Text"/>, never markup, so a key or
/// model named <c>[red]x[/]</c> prints as typed. <c>--json</c> is what scripts read; these are for people.
/// </summary>
internal static class CliTable
{
    /// <summary>
    /// Wide enough that a pipe or <c>docker compose exec</c> without a terminal gets one line per row; a terminal
    /// gets its own width.
    /// </summary>
    private const int UnattendedWidth = 240;

    public static Task WriteAsync(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, ISet<int>? rightAligned = null)
    {
        var table = new Table().Border(TableBorder.Rounded);
        for (var i = 0; i < headers.Count; i++)
        {
            var column = new TableColumn(new Text(headers[i], new Style(decoration: Decoration.Bold)));
            table.AddColumn(rightAligned?.Contains(i) == true ? column.RightAligned() : column);
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell)).ToArray());
        }

        return RenderAsync(output, table);
    }

    /// <summary>Renders anything Spectre can draw (a table, a rule, a line of styled text) into <paramref name="output"/>.</summary>
    public static async Task RenderAsync(TextWriter output, IRenderable renderable)
    {
        var terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var buffer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(buffer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = terminal ? Math.Max(Console.WindowWidth, 80) : UnattendedWidth;
        // Spectre falls back to ASCII borders where the output cannot encode box drawing; ours is UTF-8 throughout.
        console.Profile.Capabilities.Unicode = true;
        console.Write(renderable);
        await output.WriteAsync(buffer.ToString());
    }
}

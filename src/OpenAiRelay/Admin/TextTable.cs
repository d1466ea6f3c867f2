using System.Text;

namespace OpenAiRelay.Admin;

/// <summary>Aligned plain-text tables for the CLI: columns padded to their widest cell, numbers right-aligned.</summary>
internal static class TextTable
{
    public static string Render(IReadOnlyList<string> headers, IReadOnlyList<string[]> rows, ISet<int>? rightAligned = null)
    {
        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        AppendRow(text, headers, widths, rightAligned);
        AppendRow(text, widths.Select(w => new string('-', w)).ToArray(), widths, null);
        foreach (var row in rows)
        {
            AppendRow(text, row, widths, rightAligned);
        }

        return text.ToString();
    }

    private static void AppendRow(StringBuilder text, IReadOnlyList<string> cells, int[] widths, ISet<int>? rightAligned)
    {
        for (var i = 0; i < cells.Count; i++)
        {
            if (i > 0)
            {
                text.Append("  ");
            }

            var cell = cells[i];
            text.Append(rightAligned?.Contains(i) == true ? cell.PadLeft(widths[i]) : i == cells.Count - 1 ? cell : cell.PadRight(widths[i]));
        }

        text.Append('\n');
    }
}

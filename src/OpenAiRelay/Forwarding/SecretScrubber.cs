using System.Collections.Frozen;
using System.Text;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// Removes the server's upstream key from text an upstream sends back: the whole key and any piece of it of
/// <see cref="MinPiece"/> characters or more, wherever it sits (an error that quotes the key half-masked, or echoes the
/// Authorization header). A piece shorter than that (OpenAI's last four characters) identifies nothing.
/// </summary>
internal sealed class SecretScrubber
{
    public const int MinPiece = 8;

    private const string Redacted = "[redacted]";

    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _pieces;

    public SecretScrubber(string secret)
    {
        var pieces = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i + MinPiece <= secret.Length; i++)
        {
            pieces.Add(secret.Substring(i, MinPiece));
        }

        _pieces = pieces.ToFrozenSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public bool Contains(ReadOnlySpan<char> text)
    {
        for (var i = 0; i + MinPiece <= text.Length; i++)
        {
            if (_pieces.Contains(text.Slice(i, MinPiece)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The text with every run covered by key pieces replaced by <c>[redacted]</c>; the same string when there is none.</summary>
    public string Scrub(string text)
    {
        StringBuilder? scrubbed = null;
        var copiedTo = 0;
        var i = 0;
        while (i + MinPiece <= text.Length)
        {
            if (!_pieces.Contains(text.AsSpan(i, MinPiece)))
            {
                i++;
                continue;
            }

            // Extend over every overlapping or adjacent piece: the whole quoted run goes, not just its first 8 characters.
            var end = i + MinPiece;
            for (var j = i + 1; j + MinPiece <= text.Length && j <= end; j++)
            {
                if (_pieces.Contains(text.AsSpan(j, MinPiece)))
                {
                    end = j + MinPiece;
                }
            }

            scrubbed ??= new StringBuilder(text.Length);
            scrubbed.Append(text, copiedTo, i - copiedTo).Append(Redacted);
            copiedTo = end;
            i = end;
        }

        return scrubbed is null ? text : scrubbed.Append(text, copiedTo, text.Length - copiedTo).ToString();
    }
}

namespace FakeOpenAi.Wire;

/// <summary>
/// The fake's deterministic reply: "Fake reply to:" followed by the words of the prompt, padded with filler, cut
/// into exactly one piece per content delta. The concatenated pieces are the full reply text.
/// </summary>
internal static class ReplyText
{
    private static readonly string[] Prefix = ["Fake", "reply", "to:"];
    private static readonly string[] Filler = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"];

    public static string[] Pieces(string prompt, int count)
    {
        // count + 1: words past the last one used stay in one unsplit remainder, so a huge prompt costs little.
        var promptWords = prompt.Split((char[]?)null, count + 1, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var pieces = new string[count];
        for (var i = 0; i < count; i++)
        {
            var word = i < Prefix.Length ? Prefix[i]
                : i - Prefix.Length < promptWords.Length ? promptWords[i - Prefix.Length]
                : Filler[(i - Prefix.Length - promptWords.Length) % Filler.Length];
            pieces[i] = i == 0 ? word : " " + word;
        }

        return pieces;
    }
}

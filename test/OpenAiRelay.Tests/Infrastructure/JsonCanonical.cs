using System.Text;
using System.Text.Json;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>
/// JSON compared by meaning, not by bytes: members in order, strings decoded, numbers by their exact text. For checking
/// that a rewrite of a body (the relay's usage injection) changed only what it meant to change.
/// </summary>
public static class JsonCanonical
{
    public static List<string> Members(JsonElement element, string except) =>
        [.. element.EnumerateObject().Where(p => p.Name != except).Select(p => p.Name + "=" + Of(p.Value))];

    public static string Of(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(",", value.EnumerateObject().Select(p => p.Name + "=" + Of(p.Value))) + "}",
        JsonValueKind.Array => "[" + string.Join(",", value.EnumerateArray().Select(Of)) + "]",
        JsonValueKind.String => Decoded(value),
        _ => value.GetRawText(),
    };

    private static string Decoded(JsonElement value)
    {
        try
        {
            return "s:" + Convert.ToHexString(Encoding.UTF8.GetBytes(value.GetString()!));
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate has no decoded form; it must then have been kept exactly as sent.
            return "raw:" + value.GetRawText();
        }
    }
}

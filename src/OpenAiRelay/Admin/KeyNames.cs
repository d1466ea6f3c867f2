namespace OpenAiRelay.Admin;

/// <summary>Key names are for people and reports: short, printable, no spaces, so they are safe in tables and logs.</summary>
internal static class KeyNames
{
    public const int MaxLength = 64;

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or '@'))
            {
                return false;
            }
        }

        return true;
    }

    public const string Rule = "a key name is 1 to 64 characters of letters, digits, '-', '_', '.' or '@'";
}

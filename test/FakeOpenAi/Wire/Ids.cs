namespace FakeOpenAi.Wire;

/// <summary>Random ids shaped like OpenAI's (<c>req_</c> + 32 hex, <c>chatcmpl-</c> + 29 alphanumerics, ...).</summary>
internal static class Ids
{
    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string Hex(int length)
    {
        Span<byte> bytes = stackalloc byte[(length + 1) / 2];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes)[..length];
    }

    public static string Alphanumeric(int length) =>
        string.Create(length, 0, static (span, _) => Random.Shared.GetItems(Alphanumerics.AsSpan(), span));
}

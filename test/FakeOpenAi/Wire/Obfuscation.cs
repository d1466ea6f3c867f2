namespace FakeOpenAi.Wire;

/// <summary>
/// The <c>obfuscation</c> padding OpenAI adds to stream events (wire doc §2.1) so that event sizes do not leak the
/// content. Deterministic here; its only job is to be bytes the relay must pass through untouched.
/// </summary>
internal static class Obfuscation
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    public static string For(int sequence, int contentLength)
    {
        var length = 4 + (((sequence * 5) + contentLength) % 12);
        return string.Create(length, sequence, static (span, seq) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[((seq * 7) + (i * 13)) % Alphabet.Length];
            }
        });
    }
}

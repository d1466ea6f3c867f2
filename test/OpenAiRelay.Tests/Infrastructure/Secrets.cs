namespace OpenAiRelay.Tests.Infrastructure;

public static class Secrets
{
    public static readonly string[] Canaries = [RelayServer.UpstreamKeyCanary, RelayServer.ClientToken, RelayServer.SecondClientToken];

    /// <summary>Fails if any seeded secret appears in <paramref name="text"/> (a body, a header dump, the logs).</summary>
    public static void AssertAbsent(string text, string where)
    {
        foreach (var canary in Canaries)
        {
            var at = text.IndexOf(canary, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Say where, without repeating the secret: the line it sits in, the secret itself masked.
                var start = text.LastIndexOf('\n', at) + 1;
                var end = text.IndexOf('\n', at);
                var line = text[start..(end < 0 ? text.Length : end)].Replace(canary, "<" + canary[..12] + "...>", StringComparison.Ordinal);
                Assert.Fail($"secret '{canary[..12]}...' leaked into {where}: {line[..Math.Min(line.Length, 400)]}");
            }
        }
    }
}

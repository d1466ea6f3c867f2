namespace OpenAiRelay.Tests.Infrastructure;

public static class Secrets
{
    public static readonly string[] Canaries = [RelayServer.UpstreamKeyCanary, RelayServer.ClientToken, RelayServer.SecondClientToken];

    /// <summary>Fails if any seeded secret appears in <paramref name="text"/> (a body, a header dump, the logs).</summary>
    public static void AssertAbsent(string text, string where)
    {
        foreach (var canary in Canaries)
        {
            Assert.False(text.Contains(canary, StringComparison.Ordinal), $"secret '{canary[..12]}...' leaked into {where}");
        }
    }
}

namespace OpenAiRelay.LoadGen;

internal static class ScenarioOrder
{
    /// <summary>The order scenarios run in within a round.</summary>
    public static readonly string[] All = ["chat", "chat1", "sse", "files", "ws"];
}

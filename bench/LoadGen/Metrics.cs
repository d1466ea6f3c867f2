namespace OpenAiRelay.LoadGen;

/// <summary>The numbers one scenario produced for one target in one round, by key (for example <c>chat.rps</c>).</summary>
internal sealed class Metrics : Dictionary<string, double>
{
    public Metrics()
        : base(StringComparer.Ordinal)
    {
    }
}

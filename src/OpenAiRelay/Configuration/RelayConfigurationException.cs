namespace OpenAiRelay.Configuration;

/// <summary>Configuration a person must fix before the relay can start; each failure is one actionable line.</summary>
internal sealed class RelayConfigurationException(IReadOnlyList<string> failures)
    : Exception(string.Join(Environment.NewLine, failures))
{
    public IReadOnlyList<string> Failures { get; } = failures;
}

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// The tests that read metrics and spans run alone, after every other test. An OpenTelemetry provider listens to
/// every meter and span source of its name in the process, not only its own relay's (production runs one relay per
/// process), so traffic from tests running beside them would land in their exact counts.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}

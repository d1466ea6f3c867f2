namespace OpenAiRelay.Pipeline;

/// <summary>
/// The one name of the relay's <c>System.Diagnostics.Metrics</c> meter and of its <c>ActivitySource</c>: every
/// instrument is created on a meter of this name (<c>IMeterFactory</c> hands each folder the same one), and the
/// exporters subscribe to it by this name.
/// </summary>
internal static class RelayDiagnostics
{
    public const string Name = "OpenAiRelay";
}

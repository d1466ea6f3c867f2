using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>Values the deployment files must agree with, read from the relay's shipped appsettings.json.</summary>
public static class ShippedDefaults
{
    /// <summary><c>Relay:ShutdownTimeout</c>: how long in-flight streams may finish after SIGTERM.</summary>
    public static TimeSpan ShutdownTimeout { get; } = TimeSpan.Parse(
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src/OpenAiRelay/appsettings.json")))
            .RootElement.GetProperty("Relay").GetProperty(nameof(ShutdownTimeout)).GetString()!,
        System.Globalization.CultureInfo.InvariantCulture);
}

using System.Diagnostics;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>
/// The relay as users run it: the output of <c>dotnet publish</c> (what the Dockerfile ships), started as its own
/// process and configured only by environment variables. <c>./test.sh</c> publishes once and passes the folder in
/// <c>RELAY_PUBLISH_DIR</c>; without it the first test that needs it publishes into a temporary folder.
/// </summary>
public static class PublishedRelay
{
    private static readonly Lazy<Task<string>> s_executable = new(PublishAsync);

    public static Task<string> GetExecutableAsync() => s_executable.Value;

    private static async Task<string> PublishAsync()
    {
        var dir = Environment.GetEnvironmentVariable("RELAY_PUBLISH_DIR");
        if (string.IsNullOrEmpty(dir) || !File.Exists(Path.Combine(dir, "openai-relay")))
        {
            dir = Path.Combine(Path.GetTempPath(), "openai-relay-publish-" + Environment.ProcessId);
            var psi = new ProcessStartInfo("dotnet", ["publish", Path.Combine(RepositoryPaths.Root, "src/OpenAiRelay/OpenAiRelay.csproj"), "-c", "Release", "-o", dir, "--nologo"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var publish = Process.Start(psi)!;
            var output = publish.StandardOutput.ReadToEndAsync();
            var errors = publish.StandardError.ReadToEndAsync();
            await publish.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
            Assert.True(publish.ExitCode == 0, "dotnet publish failed:\n" + await output + await errors);
        }

        return Path.Combine(dir, "openai-relay");
    }

    /// <summary>Starts the published relay with exactly <paramref name="environment"/> for the relay's own variables.</summary>
    public static async Task<RelayProcess> StartAsync(IDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(await GetExecutableAsync())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var inherited in new[] { "OPENAI_API_KEY", "RELAY_TOKEN", "OPENAI_RELAY_TOKEN", "OPENAI_BASE_URL", "PORT", "BIND_ADDRESS", "OPENAI_ORGANIZATION", "OPENAI_PROJECT", "RELAY_TRUSTED_PROXIES", "ASPNETCORE_URLS", "RELAY_DATA_DIR", "DATABASE_URL", "REDIS_URL", "RELAY_ADMIN_TOKEN", "RELAY_KEY_PEPPER", "RELAY_PRICES_FILE", "RELAY_METRICS_PORT", "RELAY_METRICS_TOKEN", "RELAY_METRICS_BIND_ADDRESS", "RELAY_TRACE_UPSTREAM", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME" })
        {
            psi.Environment.Remove(inherited);
        }

        psi.Environment["RELAY_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "openai-relay-process-" + Guid.NewGuid().ToString("N"));
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        return new RelayProcess(Process.Start(psi)!);
    }
}

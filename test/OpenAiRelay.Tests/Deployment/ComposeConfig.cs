using System.Diagnostics;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// <c>docker-compose -f compose.yaml config</c> (no Docker engine needed) on a copy of the shipped compose.yaml beside a
/// given .env, as JSON. The output is what compose would run: env_file merged into environment, substitutions applied.
/// </summary>
public static class ComposeConfig
{
    public static string ShippedPath => Path.Combine(RepositoryPaths.Root, "compose.yaml");

    /// <summary>The several-instances override (docs/scaling.md), copied beside compose.yaml: add <c>-f compose.scale.yaml</c> to use it.</summary>
    public static string ScalePath => Path.Combine(RepositoryPaths.Root, "compose.scale.yaml");

    public sealed record Result(int ExitCode, string Output, string Errors, string Directory)
    {
        /// <summary>The whole resolved configuration.</summary>
        public JsonElement Root => JsonDocument.Parse(ToJson(Output)).RootElement.Clone();

        /// <summary>The resolved <c>relay</c> service.</summary>
        public JsonElement Relay => Service("relay");

        public JsonElement Service(string name) => Root.GetProperty("services").GetProperty(name);
    }

    /// <param name="dotEnv">The .env beside compose.yaml, or null for none.</param>
    /// <param name="arguments">What follows <c>-f compose.yaml</c>: <c>config</c> unless given (<c>--profile observability config</c>,
    /// <c>config --profiles</c>).</param>
    public static async Task<Result> RunAsync(string? dotEnv, params string[] arguments)
    {
        var directory = Path.Combine(Path.GetTempPath(), "openai-relay-compose-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        File.Copy(ShippedPath, Path.Combine(directory, "compose.yaml"));
        File.Copy(ScalePath, Path.Combine(directory, "compose.scale.yaml"));
        if (dotEnv is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, ".env"), dotEnv);
        }

        var compose = FindExecutable("docker-compose")
            ?? throw new Xunit.Sdk.XunitException("docker-compose is not installed (it validates compose.yaml without a Docker engine): apt-get install docker-compose (.ci/run installs it).");
        var psi = new ProcessStartInfo(compose, ["-f", "compose.yaml", .. (arguments.Length == 0 ? new[] { "config" } : arguments)])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Only the .env may feed substitutions, not whatever the test runner's environment happens to hold.
        psi.Environment.Remove("RELAY_TRUSTED_PROXIES");
        psi.Environment.Remove("GRAFANA_ADMIN_PASSWORD");
        psi.Environment.Remove("COMPOSE_PROFILES");
        psi.Environment.Remove("COMPOSE_FILE");
        foreach (var secret in new[] { "POSTGRES_PASSWORD", "REDIS_PASSWORD", "RELAY_KEY_PEPPER" })
        {
            psi.Environment.Remove(secret);
        }
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var result = new Result(process.ExitCode, await output, await errors, directory);
        Directory.Delete(directory, recursive: true);
        return result;
    }

    public static string? FindExecutable(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/usr/bin").Append("/usr/local/bin")
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>YAML to JSON with PyYAML, which Debian's docker-compose (a Python program) depends on.</summary>
    public static string ToJson(string yaml)
    {
        var psi = new ProcessStartInfo("python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        process.StandardInput.Write(yaml);
        process.StandardInput.Close();
        var json = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(30_000) && process.ExitCode == 0, "python3 could not read the compose output as YAML: " + errors);
        return json;
    }
}

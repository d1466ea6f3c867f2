using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// <c>openai-relay healthcheck</c> (the image's HEALTHCHECK) finds the port the server listens on from the same
/// sources in the same order: <c>appsettings.json</c> beside the executable, then <c>Relay__*</c> variables, then the
/// guide's <c>PORT</c> on top. Run on a copy of the published relay whose appsettings.json moves the port.
/// </summary>
public sealed class HealthCheckCommandTests : IAsyncLifetime
{
    private readonly string _copy = Path.Combine(Path.GetTempPath(), "openai-relay-healthcheck-" + Guid.NewGuid().ToString("N"));
    private readonly int _settingsPort = RelayProcess.FreePort();
    private RelayProcess? _relay;

    public async Task InitializeAsync()
    {
        var published = Path.GetDirectoryName(await PublishedRelay.GetExecutableAsync())!;
        CopyDirectory(published, _copy);
        var settingsPath = Path.Combine(_copy, "appsettings.json");
        var settings = JsonNode.Parse(File.ReadAllText(settingsPath))!;
        settings["Relay"]!["Listen"] = new JsonObject { ["Port"] = _settingsPort };
        File.WriteAllText(settingsPath, settings.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        Directory.Delete(_copy, recursive: true);
    }

    [Fact]
    public async Task TheCheckReadsThePortTheServerListensOn_InTheServersOrder()
    {
        // The server, with no PORT: it listens where appsettings.json says.
        _relay = new RelayProcess(Process.Start(Start(_copy, "openai-relay", []))!);
        await _relay.WaitUntilHealthyAsync(_settingsPort);

        // The check with the same environment reads appsettings.json too.
        Assert.Equal(0, await CheckAsync([]));

        // A Relay__ variable beats appsettings.json (here: a port nobody listens on, so the check fails)...
        var dead = RelayProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        Assert.Equal(1, await CheckAsync([("Relay__Listen__Port", dead)]));

        // ...and the guide's PORT beats both, as it does for the server.
        Assert.Equal(0, await CheckAsync([("Relay__Listen__Port", dead), ("PORT", _settingsPort.ToString(CultureInfo.InvariantCulture))]));
        Assert.Equal(1, await CheckAsync([("PORT", dead)]));
    }

    private async Task<int> CheckAsync((string Name, string Value)[] variables)
    {
        using var check = Process.Start(Start(_copy, "openai-relay", variables, "healthcheck"))!;
        await check.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return check.ExitCode;
    }

    private static ProcessStartInfo Start(string directory, string executable, (string Name, string Value)[] variables, params string[] arguments)
    {
        var psi = new ProcessStartInfo(Path.Combine(directory, executable), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var name in psi.Environment.Keys.Where(k => k is "PORT" or "BIND_ADDRESS" or "RELAY_TOKEN" or "OPENAI_RELAY_TOKEN" or "OPENAI_API_KEY" || k.StartsWith("Relay__", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(name);
        }

        psi.Environment["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary;
        psi.Environment["RELAY_TOKEN"] = RelayServer.ClientToken;
        psi.Environment["OPENAI_BASE_URL"] = "http://127.0.0.1:9";
        psi.Environment["RELAY_DATA_DIR"] = Path.Combine(directory, "data");
        foreach (var (name, value) in variables)
        {
            psi.Environment[name] = value;
        }

        return psi;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>The Dockerfile, checked and its build replayed without a Docker engine (none is available to the tests).</summary>
public sealed class DockerfileTests
{
    private static readonly string s_path = Path.Combine(RepositoryPaths.Root, "Dockerfile");

    [Fact]
    public void Image_HasAnExecFormEntrypoint_ANonRootUser_AndTheEnvironmentTheDeploymentReliesOn()
    {
        var dockerfile = Dockerfile.Parse(s_path);
        var image = dockerfile.Stages[^1];

        // Exec form: the relay is the process that receives docker stop's SIGTERM (a shell in between would not pass it on).
        var entrypoint = dockerfile.Single(image, "ENTRYPOINT").ExecForm();
        Assert.True(entrypoint is not null, "ENTRYPOINT must be exec form (a JSON array) so that SIGTERM reaches the relay");
        Assert.Equal(["/app/openai-relay"], entrypoint);
        Assert.Empty(dockerfile.In(image, "CMD"));

        // The .NET images' built-in non-root user (app, UID 1654) or any other non-root user.
        var user = dockerfile.Single(image, "USER").Arguments.Split(':')[0];
        Assert.True(user is "$APP_UID" or "${APP_UID}" or "app" || (int.TryParse(user, CultureInfo.InvariantCulture, out var uid) && uid > 0), $"USER {user} is not a known non-root user");

        var environment = dockerfile.Environment(image);
        Assert.Equal("0.0.0.0", environment["BIND_ADDRESS"]);
        Assert.Equal("3001", environment["PORT"]);
        Assert.Equal("json", environment["Logging__Console__FormatterName"]);
        Assert.Equal("/data", environment["RELAY_DATA_DIR"]);
        Assert.Equal("3001", dockerfile.Single(image, "EXPOSE").Arguments);

        var healthcheck = dockerfile.Single(image, "HEALTHCHECK").Arguments;
        Assert.Equal(["/app/openai-relay", "healthcheck"], new DockerInstruction(image, "HEALTHCHECK", healthcheck[healthcheck.IndexOf("CMD ", StringComparison.Ordinal)..]).ExecForm("CMD") ?? []);
    }

    [Fact]
    public void PublishCommand_IsTheOneTestShRuns()
    {
        // The tests run test.sh's publish output (RELAY_PUBLISH_DIR); it must be the same build as the image's.
        var image = PublishArguments(Assert.Single(Dockerfile.Parse(s_path).Instructions, i => i.Keyword == "RUN" && i.Arguments.StartsWith("dotnet publish", StringComparison.Ordinal)).Arguments);
        var testSh = PublishArguments(Assert.Single(File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "test.sh")), l => l.StartsWith("dotnet publish", StringComparison.Ordinal)));
        Assert.Equal(image, testSh);
        Assert.Equal(["dotnet", "publish", "src/OpenAiRelay/OpenAiRelay.csproj", "-c", "Release"], image);
    }

    [Fact]
    public async Task BuildReplayedWithoutDocker_StartedWithTheImagesAndComposesEnvironment_ServesLogsJsonAndExitsZeroOnSigterm()
    {
        var dockerfile = Dockerfile.Parse(s_path);
        var image = dockerfile.Stages[^1];
        var root = Path.Combine(Path.GetTempPath(), "openai-relay-image-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var replay = new DockerBuildReplay(dockerfile, root);
            await replay.RunAsync();
            var entrypoint = dockerfile.Single(image, "ENTRYPOINT").ExecForm()!;
            var executable = replay.HostPath(image, entrypoint[0]);
            Assert.True(File.Exists(executable), $"the image's ENTRYPOINT {entrypoint[0]} is not in the built image:\n{replay.Log}");

            await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary }).DefaultTimeout();
            // The container's environment: the image's ENV, then compose's (env_file .env plus its pinned values).
            var compose = await ComposeConfig.RunAsync($"OPENAI_API_KEY={RelayServer.UpstreamKeyCanary}\nRELAY_TOKEN={RelayServer.ClientToken}\nOPENAI_BASE_URL={fake.BaseAddress}v1\n");
            Assert.True(compose.ExitCode == 0, compose.Errors);
            var environment = dockerfile.Environment(image).ToDictionary(StringComparer.Ordinal);
            foreach (var variable in compose.Relay.GetProperty("environment").EnumerateObject())
            {
                environment[variable.Name] = variable.Value.GetString()!;
            }

            // Host stand-ins for what only exists in a container: the port (3001 may be taken here; the value is checked
            // above and in ComposeFileTests), the /data volume, and PATH (the image prepends /app for the admin verbs).
            var port = RelayProcess.FreePort();
            Assert.Equal("3001", environment["PORT"]);
            environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
            environment["RELAY_DATA_DIR"] = Path.Combine(root, "data");
            Directory.CreateDirectory(environment["RELAY_DATA_DIR"]);
            environment["PATH"] = environment["PATH"].Replace("${PATH}", Environment.GetEnvironmentVariable("PATH"), StringComparison.Ordinal)
                .Replace("/app", replay.HostPath(image, "/app"), StringComparison.Ordinal);

            await using var relay = new RelayProcess(Process.Start(Container(executable, replay.HostPath(image, "/app"), environment))!);
            await relay.WaitUntilHealthyAsync(port);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TaskTimeouts.Default };
            client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
            using var models = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);

            // The image's HEALTHCHECK command, with the container's environment.
            var check = dockerfile.Single(image, "HEALTHCHECK").Arguments;
            var healthcheck = new DockerInstruction(image, "HEALTHCHECK", check[check.IndexOf("CMD ", StringComparison.Ordinal)..]).ExecForm("CMD")!;
            var probe = Container(replay.HostPath(image, healthcheck[0]), replay.HostPath(image, "/app"), environment);
            foreach (var argument in healthcheck.Skip(1))
            {
                probe.ArgumentList.Add(argument);
            }

            using (var healthProcess = Process.Start(probe)!)
            {
                await healthProcess.WaitForExitAsync().DefaultTimeout();
                Assert.Equal(0, healthProcess.ExitCode);
            }

            relay.Terminate();
            Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));
            await Task.Delay(200);
            var lines = relay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEmpty(lines);
            foreach (var line in lines)
            {
                Assert.True(line.StartsWith('{'), "not a JSON log line: " + line);
                using var entry = JsonDocument.Parse(line);
                var timestamp = entry.RootElement.GetProperty("Timestamp").GetString()!;
                Assert.True(DateTimeOffset.TryParseExact(timestamp, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _), "not an ISO 8601 UTC timestamp: '" + timestamp + "'");
            }

            Assert.Contains(lines, l => l.Contains("\"Category\":\"OpenAiRelay.Telemetry.RequestLog\"", StringComparison.Ordinal) && l.Contains("/v1/models", StringComparison.Ordinal));
            Secrets.AssertAbsent(relay.Output, "the container's log");
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A process with exactly the container's variables for the relay's settings (none inherited from the test runner).</summary>
    private static ProcessStartInfo Container(string executable, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var inherited in psi.Environment.Keys.Where(k => k.StartsWith("OPENAI_", StringComparison.Ordinal) || k.StartsWith("RELAY_", StringComparison.Ordinal)
            || k.StartsWith("Relay__", StringComparison.Ordinal) || k.StartsWith("Logging__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
            || k is "PORT" or "BIND_ADDRESS").ToList())
        {
            psi.Environment.Remove(inherited);
        }

        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        return psi;
    }

    /// <summary>A <c>dotnet publish</c> command without what only changes where and how loudly it writes.</summary>
    private static List<string> PublishArguments(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var kept = new List<string>();
        for (var i = 0; i < words.Count; i++)
        {
            switch (words[i])
            {
                case "-o" or "--output" or "-v" or "--verbosity":
                    i++;
                    break;
                case "--nologo" or "--no-restore":
                    break;
                default:
                    kept.Add(words[i]);
                    break;
            }
        }

        return kept;
    }
}

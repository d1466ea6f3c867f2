using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>
/// A throwaway Prometheus: Debian's <c>/usr/bin/prometheus</c> on 127.0.0.1 and a free port, its TSDB and config in a
/// temp directory, scraping the given targets every second and evaluating the given rule files every second. Killed
/// and its directory deleted on dispose. A missing binary fails the tests with a clear message.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const string Binary = "/usr/bin/prometheus";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "relay-prometheus-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly ConcurrentQueue<string> _output = new();
    private readonly HttpClient _client;
    private Process? _process;

    private PrometheusServer(int port)
    {
        Port = port;
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public int Port { get; }

    /// <summary>What Prometheus logged, for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <param name="target">host:port serving <c>/metrics</c>, scraped as job <c>openai-relay</c>.</param>
    /// <param name="ruleFiles">Absolute paths of rule files to load.</param>
    public static async Task<PrometheusServer> StartAsync(string target, params string[] ruleFiles)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException("The Prometheus tests need Prometheus: apt-get install -y prometheus (provides /usr/bin/prometheus; .ci/run installs it).");
        }

        var server = new PrometheusServer(RelayProcess.FreePort());
        Directory.CreateDirectory(server._directory);
        var config = Path.Combine(server._directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files: [{string.Join(", ", ruleFiles.Select(f => JsonSerializer.Serialize(f)))}]
            scrape_configs:
              - job_name: openai-relay
                static_configs:
                  - targets: ["{target}"]
            """);
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = server._directory };
        foreach (var argument in new[]
        {
            "--config.file=" + config,
            "--storage.tsdb.path=" + Path.Combine(server._directory, "data"),
            "--web.listen-address=127.0.0.1:" + server.Port.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        server._process = Process.Start(start)!;
        server._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { server._output.Enqueue(e.Data); } };
        server._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { server._output.Enqueue(e.Data); } };
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await server.ReadyAsync())
        {
            if (server._process.HasExited || DateTime.UtcNow > deadline)
            {
                var exit = server._process.HasExited ? server._process.ExitCode : -1;
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus on port {server.Port} did not become ready (exit {exit}):\n{server.Output}");
            }

            await Task.Delay(100);
        }

        return server;
    }

    /// <summary><c>/api/v1/query</c> at the current time: the <c>data</c> element, or an assertion failure naming Prometheus' error.</summary>
    public async Task<JsonElement> QueryAsync(string promql)
    {
        using var response = await _client.GetAsync(new Uri("api/v1/query?query=" + Uri.EscapeDataString(promql), UriKind.Relative));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        Assert.True(
            root.GetProperty("status").GetString() == "success",
            $"Prometheus refused {promql}: {(root.TryGetProperty("error", out var error) ? error.GetString() : response.StatusCode.ToString())}");
        return root.GetProperty("data").Clone();
    }

    /// <summary>The single value of a scalar-valued query (one sample), or null while it has none.</summary>
    public async Task<double?> ValueAsync(string promql)
    {
        var result = (await QueryAsync(promql)).GetProperty("result");
        return result.GetArrayLength() == 1
            ? double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)
            : null;
    }

    /// <summary>Polls <paramref name="promql"/> until it answers <paramref name="expected"/> (or the deadline passes) and returns the last answer.</summary>
    public async Task<double?> ValueUntilAsync(string promql, double expected)
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var value = await ValueAsync(promql);
            if (value == expected || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(200);
        }
    }

    /// <summary><c>/api/v1/rules</c>: the <c>data</c> element.</summary>
    public async Task<JsonElement> RulesAsync()
    {
        using var body = JsonDocument.Parse(await _client.GetStringAsync(new Uri("api/v1/rules", UriKind.Relative)));
        return body.RootElement.GetProperty("data").Clone();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }

            process.Dispose();
        }

        _client.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await _client.GetAsync(new Uri("-/ready", UriKind.Relative));
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>
/// A throwaway Redis for the shared-limits tests: Debian's <c>/usr/bin/redis-server</c> on 127.0.0.1 and a free port,
/// nothing saved (<c>--save "" --appendonly no</c>), stopped on dispose. It can be stopped and started again on the
/// same port (empty, as a Redis that lost its data). A missing binary fails the tests with a clear message.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const string Binary = "/usr/bin/redis-server";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "relay-redis-" + Guid.NewGuid().ToString("N")[..10]);
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary><c>redis://127.0.0.1:port/0</c>, as <c>REDIS_URL</c> takes it.</summary>
    public string Url => $"redis://127.0.0.1:{Port}/0";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException("The shared-limits tests need Redis: apt-get install -y redis-server (provides /usr/bin/redis-server).");
        }

        var server = new RedisServer(FreePort());
        Directory.CreateDirectory(server._directory);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on its port and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
        foreach (var argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await AnswersAsync())
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"redis-server on port {Port} did not start (exit {(_process.HasExited ? _process.ExitCode : -1)})");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the server (as a crash would: no shutdown of its own) and waits for it to be gone.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<bool> AnswersAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

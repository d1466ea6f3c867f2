using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// Debian's real nginx running a rendered site as a child process (<c>daemon off</c>, master and workers), with its
/// own prefix, pid file, logs and temporary folders under a test folder, so it needs no system path and leaves
/// nothing behind.
/// </summary>
public sealed partial class NginxServer : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _console = new();

    private NginxServer(Process process, string directory, int httpPort, int httpsPort)
    {
        _process = process;
        Directory = directory;
        HttpPort = httpPort;
        HttpsPort = httpsPort;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Directory { get; }

    public int HttpPort { get; }

    public int HttpsPort { get; }

    /// <summary>nginx's error log (warnings included) and anything it printed.</summary>
    public string ErrorLog
    {
        get
        {
            var path = Path.Combine(Directory, "error.log");
            string console;
            lock (_console)
            {
                console = _console.ToString();
            }

            return (File.Exists(path) ? File.ReadAllText(path) : string.Empty) + console;
        }
    }

    public static string FindExecutable()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/usr/local/sbin")
            .Select(dir => Path.Combine(dir, "nginx"));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new Xunit.Sdk.XunitException("nginx is not installed. The deployment tests run the shipped site in the real nginx: apt-get install nginx-light (.ci/run installs it).");
    }

    /// <summary>Writes <c>nginx.conf</c> around <paramref name="site"/> in <paramref name="directory"/>, starts nginx and waits for both ports.</summary>
    public static async Task<NginxServer> StartAsync(string directory, string site, int httpPort, int httpsPort)
    {
        var executable = FindExecutable();
        System.IO.Directory.CreateDirectory(directory);
        var sitePath = Path.Combine(directory, "openai-relay.conf");
        await File.WriteAllTextAsync(sitePath, site);
        var configPath = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configPath, MainConfig(directory, sitePath));

        var psi = new ProcessStartInfo(executable, ["-p", directory + "/", "-c", configPath, "-e", Path.Combine(directory, "error.log"), "-g", "daemon off;"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        var nginx = new NginxServer(Process.Start(psi)!, directory, httpPort, httpsPort);
        try
        {
            await nginx.WaitForPortAsync(httpsPort);
            await nginx.WaitForPortAsync(httpPort);
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }

        return nginx;
    }

    /// <summary>
    /// The host's <c>nginx.conf</c>: Debian's stock settings that matter here (auto workers, sendfile, gzip on with the
    /// <c>gzip_types</c> line that ships commented out enabled, as many admins do), with every path moved under
    /// <paramref name="directory"/>. The site is included inside <c>http{}</c>, as sites-enabled/ is.
    /// </summary>
    private static string MainConfig(string directory, string sitePath)
    {
        // As root the master switches its workers to `user`; the default (nobody) could not write the temp folders here.
        var user = GetEffectiveUserId() == 0 ? "user root;" : "# not root: workers keep the current user";
        return $$"""
            {{user}}
            worker_processes auto;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;

            events {
                worker_connections 768;
            }

            http {
                sendfile on;
                tcp_nopush on;
                types_hash_max_size 2048;
                default_type application/octet-stream;
                ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
                ssl_prefer_server_ciphers on;
                access_log {{directory}}/access.log;

                gzip on;
                gzip_proxied any;
                gzip_types text/plain text/css application/json application/javascript text/xml application/xml application/xml+rss text/javascript text/event-stream;

                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;

                include {{sitePath}};
            }

            """;
    }

    private async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                await Task.Delay(100);
                throw new Xunit.Sdk.XunitException($"nginx exited with code {_process.ExitCode}:\n{ErrorLog}");
            }

            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(System.Net.IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                await Task.Delay(50);
            }
        }

        throw new Xunit.Sdk.XunitException($"nginx never listened on 127.0.0.1:{port}:\n{ErrorLog}");
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_console)
            {
                _console.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM to the master: a fast shutdown that also ends the workers (killing only the master would orphan them).
            _ = Kill(_process.Id, SigTerm);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }

        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}

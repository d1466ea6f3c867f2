using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The production path on loopback: a client speaking HTTPS to the real nginx running the shipped site, in front
/// of the published relay as its own process (configured by environment variables only, JSON logs), in front of
/// the fake OpenAI upstream.
/// </summary>
public class NginxRelayStack : IAsyncLifetime
{
    /// <summary>The deployment's domain: in the certificate, in server_name, in SNI and in the Host header.</summary>
    public const string HostName = "relay.test";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "openai-relay-nginx-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly List<NginxServer> _extraNginx = [];

    public FakeOpenAiServer Fake { get; private set; } = null!;

    public RelayProcess Relay { get; private set; } = null!;

    public int RelayPort { get; private set; }

    public TestCertificate Certificate { get; private set; } = null!;

    /// <summary>nginx with the shipped site as a deployment renders it.</summary>
    public NginxServer Nginx { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary }).DefaultTimeout();
        RelayPort = RelayProcess.FreePort();
        Relay = await PublishedRelay.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = RelayServer.UpstreamKeyCanary,
            ["RELAY_TOKEN"] = RelayServer.ClientToken,
            ["OPENAI_BASE_URL"] = Fake.BaseAddress.ToString(),
            ["PORT"] = RelayPort.ToString(CultureInfo.InvariantCulture),
            // As the container image and the systemd unit run it; the tests read the request log's fields from it.
            ["Logging__Console__FormatterName"] = "json",
        });
        await Relay.WaitUntilHealthyAsync(RelayPort).DefaultTimeout();
        Certificate = TestCertificate.Create(Path.Combine(_directory, "tls"), HostName);
        Nginx = await StartNginxAsync("nginx", bareProxyPass: false);
    }

    /// <summary>Another nginx in front of the same relay (stopped with the stack), e.g. the old guide's bare proxy_pass.</summary>
    public async Task<NginxServer> StartNginxAsync(string name, bool bareProxyPass, Func<string, string>? edit = null)
    {
        NginxServer nginx;
        for (var attempt = 1; ; attempt++)
        {
            // NOTE: a port FreePort() just released can be taken by another test (or the other address family) before
            // nginx binds it; nginx then exits with "Address already in use". Pick new ports and try again.
            var httpPort = RelayProcess.FreePort();
            var httpsPort = RelayProcess.FreePort();
            if (httpPort == httpsPort)
            {
                continue;
            }

            var site = NginxSite.Render(Certificate, httpPort, httpsPort, RelayPort, bareProxyPass);
            site = edit?.Invoke(site) ?? site;
            try
            {
                nginx = await NginxServer.StartAsync(Path.Combine(_directory, $"{name}-{attempt}"), site, httpPort, httpsPort);
                break;
            }
            catch (Xunit.Sdk.XunitException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }

        if (Nginx is not null)
        {
            _extraNginx.Add(nginx);
        }

        return nginx;
    }

    public Uri HttpsBase(NginxServer? nginx = null) => new($"https://{HostName}:{(nginx ?? Nginx).HttpsPort}/");

    /// <summary>
    /// A handler that resolves <see cref="HostName"/> to 127.0.0.1 (optionally connecting from <paramref name="localAddress"/>,
    /// another loopback address) and trusts only the test certificate.
    /// </summary>
    public SocketsHttpHandler CreateHandler(IPAddress? localAddress = null) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        // A disposed response closes its connection at once instead of draining the rest of a stream first.
        MaxResponseDrainSize = 0,
        SslOptions = { RemoteCertificateValidationCallback = Certificate.Validate },
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (localAddress is not null)
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                }

                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    public HttpClient CreateClient(string? token = RelayServer.ClientToken, NginxServer? nginx = null, IPAddress? localAddress = null, Version? version = null)
    {
        var client = new HttpClient(CreateHandler(localAddress))
        {
            BaseAddress = HttpsBase(nginx),
            Timeout = TimeSpan.FromSeconds(120),
        };
        if (version is not null)
        {
            client.DefaultRequestVersion = version;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>The relay's per-request log lines so far: the <c>State</c> object of each JSON line (Method, Path, ClientAddress, ConnectionId, ...).</summary>
    public IReadOnlyList<JsonElement> RequestLog()
    {
        var lines = new List<JsonElement>();
        foreach (var line in Relay.Output.Split('\n'))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            if (document.RootElement.GetProperty("Category").GetString() == "OpenAiRelay.Telemetry.RequestLog")
            {
                lines.Add(document.RootElement.GetProperty("State").Clone());
            }
        }

        return lines;
    }

    /// <summary>Waits (bounded) until the relay has logged <paramref name="count"/> requests for paths starting with <paramref name="pathPrefix"/>.</summary>
    public Task<IReadOnlyList<JsonElement>> WaitForRequestLogAsync(string pathPrefix, int count = 1) =>
        WaitForRequestLogAsync(l => l.GetProperty("Path").GetString()!.StartsWith(pathPrefix, StringComparison.Ordinal), count, "paths " + pathPrefix);

    /// <summary>Waits (bounded) for the relay's log lines of the requests the upstream answered with these <c>x-request-id</c>s.</summary>
    public Task<IReadOnlyList<JsonElement>> WaitForRequestLogAsync(IReadOnlyCollection<string> upstreamRequestIds) =>
        WaitForRequestLogAsync(l => upstreamRequestIds.Contains(l.GetProperty("UpstreamRequestId").GetString()!), upstreamRequestIds.Count, "upstream request ids " + string.Join(", ", upstreamRequestIds.Take(3)));

    public static string UpstreamRequestId(HttpResponseMessage response) => response.Headers.GetValues("x-request-id").Single();

    private async Task<IReadOnlyList<JsonElement>> WaitForRequestLogAsync(Func<JsonElement, bool> match, int count, string what)
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var lines = RequestLog().Where(match).ToList();
            if (lines.Count >= count)
            {
                return lines;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the relay logged {lines.Count} of {count} requests for {what}:\n{Relay.Output}");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var nginx in _extraNginx)
        {
            await nginx.DisposeAsync();
        }

        if (Nginx is not null)
        {
            await Nginx.DisposeAsync();
        }

        if (Relay is not null)
        {
            await Relay.DisposeAsync();
        }

        if (Fake is not null)
        {
            await Fake.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

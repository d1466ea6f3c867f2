using System.Net;
using System.Net.Sockets;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The relay logs the client's real address behind nginx (X-Forwarded-For from a trusted proxy), and a client
/// cannot choose it. Clients connect from a second loopback address, 127.0.0.2, so the real client is
/// distinguishable from nginx (which reaches the relay from 127.0.0.1).
/// </summary>
public sealed class NginxClientAddressTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    private const string Forged = "6.6.6.6";

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2")]
    public async Task ThroughNginx_TheRelayLogsTheRealClientAddress_AndClientSentForwardingHeadersCannotChangeIt(string clientAddress)
    {
        using var client = stack.CreateClient(localAddress: IPAddress.Parse(clientAddress));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", Forged);
        request.Headers.TryAddWithoutValidation("X-Real-IP", Forged);
        request.Headers.TryAddWithoutValidation("Forwarded", "for=" + Forged);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = (await stack.WaitForRequestLogAsync([NginxRelayStack.UpstreamRequestId(response)])).Single();
        Assert.Equal(clientAddress, line.GetProperty("ClientAddress").GetString());
    }

    [Fact]
    public async Task DirectToTheRelay_FromAnUntrustedPeer_ForwardingHeadersAreIgnored()
    {
        using var client = DirectClient(IPAddress.Parse("127.0.0.2"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", Forged);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal("127.0.0.2", (await stack.WaitForRequestLogAsync([NginxRelayStack.UpstreamRequestId(response)])).Single().GetProperty("ClientAddress").GetString());
    }

    /// <summary>
    /// Inherent, and why the relay must be reachable only through nginx: a peer in RELAY_TRUSTED_PROXIES (loopback by
    /// default, where nginx runs) is believed. compose.yaml publishes the relay on the host's 127.0.0.1 only, the
    /// systemd setup binds 127.0.0.1, and nginx overwrites X-Forwarded-For with the address it saw.
    /// </summary>
    [Fact]
    public async Task DirectToTheRelay_FromTrustedLoopback_XForwardedForIsBelieved()
    {
        using var client = DirectClient(IPAddress.Loopback);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", Forged);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal(Forged, (await stack.WaitForRequestLogAsync([NginxRelayStack.UpstreamRequestId(response)])).Single().GetProperty("ClientAddress").GetString());
    }

    private HttpClient DirectClient(IPAddress localAddress)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
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
        var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{stack.RelayPort}/"), Timeout = TaskTimeouts.Default };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        return client;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using OpenAiRelay.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The site's <c>upstream</c> block with <c>keepalive</c> (plus HTTP/1.1 and an empty Connection header) reuses
/// connections to the relay. The relay logs the Kestrel connection id of every request, so distinct ids are distinct
/// TCP connections. The old guide's bare <c>proxy_pass http://127.0.0.1:3001</c> is the control: one per request.
/// </summary>
public sealed class NginxKeepAliveTests(NginxRelayStack stack, ITestOutputHelper output) : IClassFixture<NginxRelayStack>
{
    private const int Requests = 50;

    [Fact]
    public async Task SequentialRequests_ReuseAFewConnectionsToTheRelay_WhileBareProxyPassOpensOnePerRequest()
    {
        var shipped = await CountRelayConnectionsAsync(stack.Nginx);
        var bare = await CountRelayConnectionsAsync(await stack.StartNginxAsync("nginx-bare", bareProxyPass: true));

        output.WriteLine($"{Requests} sequential requests: {shipped} connection(s) to the relay with the shipped site, {bare} with a bare proxy_pass");
        Assert.True(shipped <= 5, $"{Requests} requests through the shipped site used {shipped} connections to the relay");
        // The control proves the count sees new connections (and that bare proxy_pass really is the slow path).
        Assert.Equal(Requests, bare);
    }

    /// <summary>
    /// Measures (does not assert) throughput with the shipped site against a bare proxy_pass under the same load, and
    /// checks that every request succeeds: a reused connection that the relay had closed would show up as a 502.
    /// Run alone to read the numbers (RELAY_NGINX_LOAD_SECONDS: length of one round, default 1):
    /// RELAY_NGINX_LOAD_SECONDS=5 dotnet test test/OpenAiRelay.Tests --filter FullyQualifiedName~NginxKeepAliveTests --logger "console;verbosity=detailed"
    /// </summary>
    [Fact]
    public async Task ConcurrentLoad_AllSucceed_ThroughputComparedWithBareProxyPass()
    {
        var bareNginx = await stack.StartNginxAsync("nginx-bare-load", bareProxyPass: true);
        var round = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("RELAY_NGINX_LOAD_SECONDS") ?? "1", CultureInfo.InvariantCulture));
        const int Concurrency = 8;
        const int Rounds = 3;

        await MeasureAsync(stack.Nginx, TimeSpan.FromMilliseconds(300), Concurrency);
        await MeasureAsync(bareNginx, TimeSpan.FromMilliseconds(300), Concurrency);
        // Alternating rounds, so that a load change on the (shared) machine affects both sides alike.
        long keepAliveDone = 0, keepAliveFailed = 0, bareDone = 0, bareFailed = 0;
        for (var i = 0; i < Rounds; i++)
        {
            var (done, failed) = await MeasureAsync(stack.Nginx, round, Concurrency);
            keepAliveDone += done;
            keepAliveFailed += failed;
            (done, failed) = await MeasureAsync(bareNginx, round, Concurrency);
            bareDone += done;
            bareFailed += failed;
        }

        var seconds = round.TotalSeconds * Rounds;
        var keepAliveRate = keepAliveDone / seconds;
        var bareRate = bareDone / seconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"GET /v1/models, {Concurrency} concurrent HTTPS clients, {Rounds} alternating rounds of {round.TotalSeconds:F0} s: shipped site (keepalive) {keepAliveRate:F0} req/s, bare proxy_pass {bareRate:F0} req/s, ratio {keepAliveRate / bareRate:F2}"));
        Assert.Equal(0, keepAliveFailed);
        Assert.Equal(0, bareFailed);
        Assert.True(keepAliveDone > 0 && bareDone > 0);
    }

    private async Task<int> CountRelayConnectionsAsync(NginxServer nginx)
    {
        using var client = stack.CreateClient(nginx: nginx);
        var upstreamRequestIds = new List<string>();
        for (var i = 0; i < Requests; i++)
        {
            using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            upstreamRequestIds.Add(NginxRelayStack.UpstreamRequestId(response));
        }

        var lines = await stack.WaitForRequestLogAsync(upstreamRequestIds);
        return lines.Select(l => l.GetProperty("ConnectionId").GetString()).Distinct().Count();
    }

    private async Task<(long Done, long Failed)> MeasureAsync(NginxServer nginx, TimeSpan duration, int concurrency)
    {
        using var client = stack.CreateClient(nginx: nginx);
        long done = 0;
        long failed = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
                await response.Content.ReadAsByteArrayAsync();
                Interlocked.Increment(ref response.IsSuccessStatusCode ? ref done : ref failed);
            }
        }));
        await Task.WhenAll(workers).WaitAsync(duration + TaskTimeouts.Default);
        return (done, failed);
    }
}

using System.Diagnostics;
using System.Net;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// Response headers addressed to nginx, sent by an upstream, through the shipped site and the relay: nginx neither
/// follows an internal redirect nor throttles the download, and the client sees none of them.
/// </summary>
public sealed class NginxUpstreamHeaderTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    [Fact]
    public async Task XAccelRedirectAndLimitRate_FromTheUpstream_AreNeitherFollowedNorPassedOn()
    {
        stack.Fake.Faults.Enqueue(new FakeFault
        {
            PathPrefix = "/v1/files/file-size-262144/content",
            Headers = new Dictionary<string, string>
            {
                ["X-Accel-Redirect"] = "/internal/secret",
                ["X-Accel-Limit-Rate"] = "1",
                ["X-Accel-Expires"] = "86400",
            },
        });
        using var client = stack.CreateClient();
        var watch = Stopwatch.StartNew();
        using var response = await client.GetAsync(new Uri("v1/files/file-size-262144/content", UriKind.Relative)).DefaultTimeout();
        var body = await response.Content.ReadAsByteArrayAsync();
        watch.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The file itself, not what an internal redirect to /internal/secret would have served.
        Assert.Equal(262_144, body.Length);
        Assert.Equal(FakeContent.Sha256(262_144), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)));
        // At one byte a second this would take three days; bounded generously, it is not the assertion's point.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.False(response.Headers.NonValidated.Contains("X-Accel-Redirect"));
        Assert.False(response.Headers.NonValidated.Contains("X-Accel-Limit-Rate"));
        Assert.False(response.Headers.NonValidated.Contains("X-Accel-Expires"));
    }

    [Fact]
    public void TheShippedSite_IgnoresEveryAccelHeaderButBuffering()
    {
        var site = File.ReadAllText(NginxSite.ShippedPath);
        var line = site.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("proxy_ignore_headers", StringComparison.Ordinal));
        foreach (var name in new[] { "X-Accel-Redirect", "X-Accel-Expires", "X-Accel-Limit-Rate", "X-Accel-Charset" })
        {
            Assert.Contains(name, line, StringComparison.Ordinal);
        }

        // The relay's own "X-Accel-Buffering: no" on event streams must keep working.
        Assert.DoesNotContain("X-Accel-Buffering", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAdminAllowList_WhenUncommented_KeepsAdminToListedAddresses_AndTheApiOpen()
    {
        var nginx = await stack.StartNginxAsync("nginx-admin", bareProxyPass: false, NginxSite.WithAdminAllowList);

        using var outsider = stack.CreateClient(nginx: nginx, localAddress: IPAddress.Parse("127.0.0.2"));
        using (var refused = await outsider.GetAsync(new Uri("admin/keys", UriKind.Relative)).DefaultTimeout())
        {
            // nginx's own 403: the request never reached the relay.
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var api = await outsider.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        }

        using var listed = stack.CreateClient(nginx: nginx, localAddress: IPAddress.Loopback);
        using var allowed = await listed.GetAsync(new Uri("admin/keys", UriKind.Relative)).DefaultTimeout();
        // The relay answers (this stack sets no RELAY_ADMIN_TOKEN, so its admin API is a JSON 404).
        Assert.Equal(HttpStatusCode.NotFound, allowed.StatusCode);
        Assert.Contains("\"error\"", await allowed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

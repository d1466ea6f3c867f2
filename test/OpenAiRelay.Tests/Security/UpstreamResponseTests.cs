using System.Net;
using System.Text;
using FakeOpenAi;
using OpenAiRelay.Forwarding;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// What an upstream (or any OpenAI-compatible service OPENAI_BASE_URL points at) sends back is not trusted to steer
/// the relay's origin or the nginx in front, and never carries the server's key to a client (docs/threat-model.md
/// E10-E13, B5, A14).
/// </summary>
public sealed class UpstreamResponseTests : IAsyncLifetime
{
    /// <summary>A project key, as OpenAI's messages quote them: the <c>sk-proj-</c> prefix and the last 4 characters.</summary>
    private const string ProjectKey = "sk-proj-canaryUPSTREAMkey0123456789abcdefghijKLMNOPqrstuvwxyz";

    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = ProjectKey });
        _relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), upstreamKey: ProjectKey);
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    public static TheoryData<string, string> Dropped => new()
    {
        { "X-Accel-Redirect", "/internal/secret" },
        { "X-Accel-Limit-Rate", "1" },
        { "X-Accel-Expires", "86400" },
        { "X-Accel-Charset", "koi8-r" },
        { "Set-Cookie2", "edge=1; Version=1" },
        { "x-openai-organization", "org-shared" },
        { "Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload" },
        { "Alt-Svc", "h3=\"evil.example:443\"; ma=86400" },
        { "NEL", "{\"report_to\":\"cf-nel\",\"max_age\":604800}" },
        { "Report-To", "{\"group\":\"cf-nel\",\"endpoints\":[{\"url\":\"https://collector.example/report\"}]}" },
        { "Reporting-Endpoints", "default=\"https://collector.example/report\"" },
        { "Clear-Site-Data", "\"cookies\", \"storage\"" },
        { "Server-Timing", "cfRequestDuration;dur=42" },
    };

    [Theory]
    [MemberData(nameof(Dropped))]
    public async Task AHeaderForTheFrontProxyOrTheBrowser_DoesNotReachTheClient(string name, string value)
    {
        _fake.Faults.Enqueue(new FakeFault
        {
            PathPrefix = "/v1/models",
            Headers = new Dictionary<string, string> { [name] = value, ["Content-Security-Policy"] = "default-src 'none'" },
        });
        using var client = _relay.CreateClient();
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.NonValidated.Contains(name) || response.Content.Headers.NonValidated.Contains(name), $"{name} reached the client");
        // Kept on purpose: it can only restrict, and the upstream's own rate-limit and id headers still arrive.
        Assert.True(response.Headers.Contains("Content-Security-Policy"));
        Assert.True(response.Headers.Contains("x-request-id"));
        Assert.Contains("\"data\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEventStream_CarriesTheRelaysOwnAccelBuffering_NotTheUpstreams()
    {
        _fake.Faults.Enqueue(new FakeFault { PathPrefix = "/v1/chat", Headers = new Dictionary<string, string> { ["X-Accel-Buffering"] = "yes" } });
        using var client = _relay.CreateClient();
        using var response = await client.PostAsync(
            new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        await response.Content.ReadAsStringAsync();
        Assert.Equal(["no"], response.Headers.GetValues("X-Accel-Buffering"));
    }

    [Theory]
    [InlineData("TRACE")]
    [InlineData("TRACK")]
    public async Task TraceAndTrack_Get405_AndNeverReachTheUpstream(string method)
    {
        var before = _fake.Requests.Count;
        using var client = _relay.CreateClient();
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "v1/models")).DefaultTimeout();

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("method_not_allowed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("POST", response.Content.Headers.Allow);
        Assert.Equal(before, _fake.Requests.Count);
    }

    [Theory]
    [InlineData("/v1/..;/admin/keys")]
    [InlineData("/admin/..;/v1/models")]
    [InlineData("/v1/.;x=1/models")]
    public async Task ADotSegmentWithAMatrixParameter_IsRefused(string target)
    {
        var raw = await RawHttp.SendAsync(_relay.BaseAddress, $"GET {target} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nConnection: close\r\n\r\n");
        Assert.Equal([400], RawHttp.StatusCodes(raw));
    }

    [Theory]
    [InlineData(403, null)]
    [InlineData(400, null)]
    [InlineData(403, "gzip")]
    [InlineData(400, "br")]
    [InlineData(500, "deflate")]
    public async Task AnUpstreamErrorQuotingTheKey_ReachesTheClientWithoutAnyPieceOfIt(int status, string? acceptEncoding)
    {
        using var client = _relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Add("x-fake-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("x-fake-error-code", status == 403 ? "incorrect_api_key" : "echo_authorization");
        if (acceptEncoding is not null)
        {
            request.Headers.Add("Accept-Encoding", acceptEncoding);
        }

        using var response = await client.SendAsync(request).DefaultTimeout();
        var body = Encoding.Latin1.GetString(await response.Content.ReadAsByteArrayAsync());

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        AssertNoPieceOfTheKey(body);
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            AssertNoPieceOfTheKey(string.Join(",", header.Value));
        }

        // Still the upstream's error, readable by an SDK: only the key is gone.
        Assert.Contains(status == 403 ? "Incorrect API key provided" : "Malformed request", body, StringComparison.Ordinal);
        Assert.Contains("[redacted]", body, StringComparison.Ordinal);
        if (status != 403)
        {
            Assert.Equal("Bearer [redacted]", response.Headers.GetValues("x-echo-authorization").Single());
        }
    }

    [Fact]
    public async Task AnUpstreamErrorWithoutTheKey_PassesByteForByte()
    {
        using var client = _relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-status", "429");
        using var response = await client.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.StartsWith("{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini", body, StringComparison.Ordinal);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.True(response.Headers.Contains("x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public void TheScrubber_RemovesEveryRunOfEightOrMore_AndKeepsShorterOnes()
    {
        var scrubber = new SecretScrubber(ProjectKey);
        Assert.Equal("key [redacted] end", scrubber.Scrub("key " + ProjectKey + " end"));
        Assert.Equal("x [redacted]*****wxyz", scrubber.Scrub("x sk-proj-*****wxyz"));
        Assert.Equal("[redacted]..[redacted]", scrubber.Scrub("0123456789abcdef..KLMNOPqrst"));
        Assert.Equal("nothing 0123456 here", scrubber.Scrub("nothing 0123456 here"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task TheDataDirectory_AndEveryFileInIt_AreOwnerOnly()
    {
        using var client = _relay.CreateClient();
        using (await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout())
        {
        }

        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(_relay.DataDirectory) & ~ownerOnly);
        var files = Directory.GetFiles(_relay.DataDirectory);
        Assert.Contains(files, f => f.EndsWith("relay.db", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("pepper", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Assert.True((File.GetUnixFileMode(file) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) == UnixFileMode.None, $"{file} is {File.GetUnixFileMode(file)}");
        }
    }

    [Fact]
    public async Task TheLogs_AtTheMostVerboseLevels_NeverCarryARequestsQuery()
    {
        using var client = _relay.CreateClient();
        using (await client.GetAsync(new Uri("v1/models?api-key=" + RelayServer.ClientToken, UriKind.Relative)).DefaultTimeout())
        {
        }

        await Task.Delay(100);
        var entries = _relay.Logs.Entries;
        // The capture really runs at Trace for the framework (routing's Debug lines are there) ...
        Assert.Contains(entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal) && e.Level <= Microsoft.Extensions.Logging.LogLevel.Debug);
        // ... and still no line repeats the query, so a token a client put there stays out of the log.
        Secrets.AssertAbsent(_relay.Logs.AllText, "the logs");
        Assert.DoesNotContain(entries, e => e.ToString().Contains("api-key=", StringComparison.Ordinal));
    }

    private static void AssertNoPieceOfTheKey(string text)
    {
        for (var i = 0; i + SecretScrubber.MinPiece <= ProjectKey.Length; i++)
        {
            Assert.DoesNotContain(ProjectKey.Substring(i, SecretScrubber.MinPiece), text, StringComparison.Ordinal);
        }
    }
}

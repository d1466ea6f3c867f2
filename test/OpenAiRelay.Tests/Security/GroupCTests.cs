using System.Net;
using System.Text;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group C: HTTP protocol and headers, spoken over raw TCP so that no client library cleans the
/// bytes up first. C7 is proven by TransferTests; C11 and C12 are documented in docs/limits.md.
/// </summary>
public sealed class GroupCTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    private const string Body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    /// <summary>
    /// A complete second request, without credentials, hidden after the body. If the relay reads it as a pipelined
    /// request of its own, it answers 401; it reaches the upstream only if the relay and the upstream disagreed on
    /// where the first body ended (request smuggling).
    /// </summary>
    private static string Smuggled(string id) => $"GET /v1/models?smuggled={id} HTTP/1.1\r\nHost: relay\r\n\r\n";

    public static TheoryData<string, string> AmbiguousFraming => new()
    {
        { "cl-and-te", "Content-Length: {LEN}\r\nTransfer-Encoding: chunked\r\n" },
        { "te-and-cl", "Transfer-Encoding: chunked\r\nContent-Length: {LEN}\r\n" },
        { "two-cls", "Content-Length: {LEN}\r\nContent-Length: 5\r\n" },
        { "empty-cl", "Content-Length: \r\n" },
        { "te-chunked-identity", "Transfer-Encoding: chunked, identity\r\n" },
        { "te-identity-chunked", "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n" },
        { "te-tab-before-colon", "Transfer-Encoding\t: chunked\r\n" },
        { "te-space-before-colon", "Transfer-Encoding : chunked\r\n" },
        { "cl-plus-sign", "Content-Length: +{LEN}\r\n" },
    };

    [Theory]
    [MemberData(nameof(AmbiguousFraming))]
    public async Task C1_AmbiguousFraming_IsRefusedOrOneRequestAndNothingSmuggled(string name, string framing)
    {
        var check = fixture.Check();
        var id = name + "-" + Guid.NewGuid().ToString("N")[..8];
        // A body that is valid as chunked (ending with the 0 chunk), followed by a whole second request.
        var chunked = $"{Encoding.UTF8.GetByteCount(Body):x}\r\n{Body}\r\n0\r\n\r\n";
        var payload = chunked + Smuggled(id);
        var request = $"POST /v1/chat/completions HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nContent-Type: application/json\r\n"
            + framing.Replace("{LEN}", Encoding.UTF8.GetByteCount(chunked).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            + "\r\n" + payload;
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, request);
        check.RecordRaw(raw);

        var statuses = RawHttp.StatusCodes(raw);
        Assert.True(statuses.Count >= 1, "no answer at all:\n" + raw);
        Assert.True(statuses[0] is 400 or 200 or 411, raw);
        await Task.Delay(200);
        Assert.DoesNotContain(check.UpstreamRequests, r => r.QueryString.Contains(id, StringComparison.Ordinal));
        Assert.True(check.UpstreamRequests.Count <= 1, $"{check.UpstreamRequests.Count} upstream requests");
        if (statuses[0] == 400 && !raw.Contains("x-relay-request-id", StringComparison.OrdinalIgnoreCase))
        {
            // Refused by Kestrel's parser, before the relay: nothing may have been forwarded.
            Assert.Empty(check.UpstreamRequests);
        }

        await check.AssertAllAsync();
    }

    [Fact]
    public async Task C2_ChunkExtensionLoneLf_Is400AndTheSmuggledRequestNeverRuns()
    {
        var check = fixture.Check();
        var id = "c2-" + Guid.NewGuid().ToString("N")[..8];
        // CVE-2025-55315: a lone LF inside a chunk extension, where a lenient parser and a strict one disagree on
        // where the chunk data starts.
        var request = $"POST /v1/chat/completions HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2;x\nAB\r\n0\r\n\r\n" + Smuggled(id);
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, request);
        check.RecordRaw(raw);

        var statuses = RawHttp.StatusCodes(raw);
        Assert.Equal(400, statuses[0]);
        Assert.Single(statuses);
        await Task.Delay(200);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task C3_NulOrBareCrInAHeader_Is400AndNothingReachesUpstream()
    {
        var check = fixture.Check();
        foreach (var header in new[] { "X-User: a\0b", "X-User: a\rInjected: yes", "OpenAI-Beta: x\0" })
        {
            var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, $"GET /v1/models HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\n{header}\r\nConnection: close\r\n\r\n");
            check.RecordRaw(raw);
            Assert.Equal(400, Assert.Single(RawHttp.StatusCodes(raw)));
        }

        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    public static TheoryData<string, int> OversizedHeads => new()
    {
        { "101-headers", 431 },
        { "33k-headers", 431 },
        { "9k-request-line", 414 },
    };

    [Theory]
    [MemberData(nameof(OversizedHeads))]
    public async Task C6_OversizedRequestHead_IsRefusedByKestrelWithNoAppException(string shape, int expected)
    {
        var check = fixture.Check();
        var head = new StringBuilder();
        var target = shape == "9k-request-line" ? "/v1/models?q=" + new string('a', 9 * 1024) : "/v1/models";
        head.Append(CultureInfo($"GET {target} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\n"));
        if (shape == "101-headers")
        {
            for (var i = 0; i < 101; i++)
            {
                head.Append(CultureInfo($"X-Filler-{i}: v\r\n"));
            }
        }
        else if (shape == "33k-headers")
        {
            for (var i = 0; i < 5; i++)
            {
                head.Append(CultureInfo($"X-Big-{i}: {new string('b', 7 * 1024)}\r\n"));
            }
        }

        head.Append("Connection: close\r\n\r\n");
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, head.ToString());
        check.RecordRaw(raw);
        Assert.Equal(expected, Assert.Single(RawHttp.StatusCodes(raw)));
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task C8_Http2PriorKnowledge_IsNotSpokenOnTheHttp1Listener()
    {
        var check = fixture.Check();
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", TimeSpan.FromSeconds(1));
        check.RecordRaw(raw);
        Assert.True(raw.Length == 0 || RawHttp.StatusCodes(raw).All(s => s is >= 400 and < 500), raw);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task C9_GzipRequestBody_IsForwardedCompressedNeverInflatedByTheRelay()
    {
        var check = fixture.Check();
        // A small bomb: 16 MB of zeros in a few KB. The relay must neither inflate it nor choke on it.
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(new byte[16 * 1024 * 1024]);
        }

        var bytes = compressed.ToArray();
        using var client = fixture.Relay.CreateClient();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content).DefaultTimeout();
        await check.RecordAsync(response, admitted: true);

        Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
        var seen = Assert.Single(check.UpstreamRequests);
        Assert.Equal(bytes.Length, seen.BodyLength);
        Assert.Equal("gzip", seen.Headers["Content-Encoding"]);
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData("GET /v1/models", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")]
    [InlineData("POST /v1/chat/completions", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")]
    public async Task C10_UpgradeOnAPlainEndpoint_IsNoTunnel(string requestLine, string upgrade)
    {
        var check = fixture.Check();
        var body = requestLine.StartsWith("POST", StringComparison.Ordinal) ? Body : string.Empty;
        var request = $"{requestLine} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\n{upgrade}"
            + (body.Length > 0 ? $"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" : string.Empty)
            + "\r\n" + body;
        var raw = await RawHttp.SendAsync(fixture.Relay.BaseAddress, request);
        check.RecordRaw(raw);

        var statuses = RawHttp.StatusCodes(raw);
        Assert.NotEmpty(statuses);
        Assert.DoesNotContain(101, statuses);
        Assert.True(statuses[0] is 200 or (>= 400 and < 500), raw);
        Assert.True(check.UpstreamRequests.Count <= 1);
        Assert.All(check.UpstreamRequests, r => Assert.NotEqual(101, r.StatusCode));
        await check.AssertAllAsync();
    }

    private static string CultureInfo(FormattableString text) => FormattableString.Invariant(text);
}

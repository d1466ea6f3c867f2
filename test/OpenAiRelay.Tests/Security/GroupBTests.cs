using System.Net;
using System.Text;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group B: routing and SSRF. B9 is proven by UpstreamFaultTests; B6 and B11 (tenancy, per-key
/// model policy) do not apply yet (docs/threat-model.md).
/// </summary>
public sealed class GroupBTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    [Fact]
    public async Task B1_B7_DestinationFieldsAndUrlsInTheBody_AreInertAndNeverFetched()
    {
        using var attacker = new AttackerListener();
        var check = fixture.Check();
        var json = $$$"""
            {"model":"gpt-4o-mini","api_base":"{{{attacker.Url}}}/v1","base_url":"{{{attacker.Url}}}","api_key":"sk-attacker","organization":"org-victim",
             "extra_headers":{"Host":"evil.example"},"messages":[{"role":"user","content":[
               {"type":"text","text":"describe"},
               {"type":"image_url","image_url":{"url":"{{{attacker.Url}}}/latest/meta-data/"}},
               {"type":"file","file":{"file_url":"{{{attacker.Url}}}/f"}},
               {"type":"input_audio","audio_url":"{{{attacker.Url}}}/a"}]}]}
            """;
        using var client = fixture.Relay.CreateClient();
        using var response = await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json")).DefaultTimeout();
        await check.RecordAsync(response, admitted: true);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(check.UpstreamRequests);
        Assert.Equal("/v1/chat/completions", seen.Path);
        Assert.Equal(json, Encoding.UTF8.GetString(seen.Body!));
        await Task.Delay(200);
        Assert.Equal(0, attacker.Connections);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task B2_DestinationHeaders_DoNotMoveTheRequest()
    {
        using var attacker = new AttackerListener();
        var check = fixture.Check();
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        var authority = new Uri(attacker.Url).Authority;
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", authority);
        request.Headers.TryAddWithoutValidation("X-Original-URL", "/admin/keys");
        request.Headers.TryAddWithoutValidation("X-Rewrite-URL", "/admin/keys");
        request.Headers.TryAddWithoutValidation("Forwarded", "host=" + authority);
        request.Headers.TryAddWithoutValidation("x-portkey-custom-host", attacker.Url);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "/evil");
        using var response = await client.SendAsync(request).DefaultTimeout();
        await check.RecordAsync(response, admitted: true);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(check.UpstreamRequests);
        Assert.Equal("/v1/models", seen.Path);
        Assert.Equal(fixture.Fake.BaseAddress.Authority, seen.Headers["Host"]);
        foreach (var name in new[] { "X-Forwarded-Host", "X-Original-URL", "X-Rewrite-URL", "Forwarded", "X-Forwarded-Prefix" })
        {
            Assert.False(seen.Headers.ContainsKey(name), name + " reached the upstream");
        }

        Assert.Equal(0, attacker.Connections);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task B4_AbsoluteFormTarget_GoesToTheConfiguredUpstreamOnly()
    {
        using var attacker = new AttackerListener();
        var check = fixture.Check();
        var authority = new Uri(attacker.Url).Authority;
        var raw = await RawHttp.SendAsync(
            fixture.Relay.BaseAddress,
            $"GET {attacker.Url}/v1/models HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\nConnection: close\r\n\r\n");
        check.RecordRaw(raw);
        var status = Assert.Single(RawHttp.StatusCodes(raw));
        Assert.True(status is 200 or 400 or 404, raw);
        Assert.Equal(0, attacker.Connections);
        Assert.All(check.UpstreamRequests, r => Assert.Equal(fixture.Fake.BaseAddress.Authority, r.Headers["Host"]));
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task B4_Connect_IsRefusedWithoutATunnel()
    {
        using var attacker = new AttackerListener();
        var check = fixture.Check();
        var authority = new Uri(attacker.Url).Authority;
        var raw = await RawHttp.SendAsync(
            fixture.Relay.BaseAddress,
            $"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {RelayServer.ClientToken}\r\n\r\n");
        check.RecordRaw(raw);
        var status = Assert.Single(RawHttp.StatusCodes(raw));
        Assert.InRange(status, 400, 499);
        Assert.Equal(0, attacker.Connections);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    public static TheoryData<string> EncodedSeparators => new()
    {
        "/v1/..%2fadmin/keys",
        "/v1/..%2Fadmin/keys",
        "/v1/..%5cadmin/keys",
        "/v1/..%5Cadmin/keys",
        "/v1/files%2Ffile-abc",
        "/v1/%2e%2e/admin/keys",
        "/v1/%2E%2E/admin/keys",
        "/v1/files%00",
        "/v1/models%00.json",
        "/v1\\..\\admin\\keys",
        "/admin%2Fkeys",
    };

    [Theory]
    [MemberData(nameof(EncodedSeparators))]
    public async Task B5_EncodedSeparatorOrNul_Is400AndNeverForwarded(string target)
    {
        var check = fixture.Check();
        var raw = await SendRawAsync(target, fixture.ClientKey);
        check.RecordRaw(raw);
        Assert.Equal(400, Assert.Single(RawHttp.StatusCodes(raw)));
        if (raw.Contains("application/json", StringComparison.Ordinal))
        {
            Assert.Contains("\"code\":\"invalid_request\"", raw, StringComparison.Ordinal);
            Assert.Contains("\"type\":\"invalid_request_error\"", raw, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("\"keys\"", raw, StringComparison.Ordinal);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    public static TheoryData<string, string> DotSegmentsToAdmin => new()
    {
        // An admin token is sent on purpose: even with it, a smuggled path never reaches an admin handler.
        { "/v1/../admin/keys", SecurityFixture.AdminToken },
        { "/v1/./../admin/keys", SecurityFixture.AdminToken },
        { "/v1//../../admin/keys", SecurityFixture.AdminToken },
        { "/v1/models/../../admin/usage", SecurityFixture.AdminToken },
    };

    [Theory]
    [MemberData(nameof(DotSegmentsToAdmin))]
    public async Task B5_DotSegmentsTowardsAdmin_NeverReachTheAdminHandlers(string target, string token)
    {
        var check = fixture.Check();
        var raw = await SendRawAsync(target, token);
        check.RecordRaw(raw);
        Assert.Equal(400, Assert.Single(RawHttp.StatusCodes(raw)));
        Assert.DoesNotContain("\"keys\"", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("security-", raw, StringComparison.Ordinal);
        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData("/V1/models")]
    public async Task B5_CaseVariant_IsRoutedLikeV1AndStillNeedsAuth(string target)
    {
        var check = fixture.Check();
        var refused = await SendRawAsync(target, "not-a-token");
        check.RecordRaw(refused);
        Assert.Equal(401, Assert.Single(RawHttp.StatusCodes(refused)));
        var accepted = await SendRawAsync(target, RelayServer.ClientToken);
        check.RecordRaw(accepted);
        var status = Assert.Single(RawHttp.StatusCodes(accepted));
        Assert.True(status is 200 or 404, accepted);
        Assert.All(check.UpstreamRequests, r => Assert.StartsWith("/v1/", r.Path, StringComparison.Ordinal));
        await check.AssertAllAsync();
    }

    [Theory]
    [InlineData("/v1//models")]
    [InlineData("/v1/models/")]
    [InlineData("/v1/models;x=1")]
    public async Task B5_EmptySegmentTrailingSlashOrMatrixParameter_IsRefusedBeforeAuthAndUpstream(string target)
    {
        // The relay classifies /v1 paths to meter them, so it refuses spellings it would not classify like the
        // upstream (issue 9); with or without a token, nothing is forwarded.
        var check = fixture.Check();
        foreach (var token in new[] { "not-a-token", RelayServer.ClientToken })
        {
            var raw = await SendRawAsync(target, token);
            check.RecordRaw(raw);
            Assert.Equal(400, Assert.Single(RawHttp.StatusCodes(raw)));
        }

        Assert.Empty(check.UpstreamRequests);
        await check.AssertAllAsync();
    }

    [Fact]
    public async Task B8_TraversalFilenameInMultipart_IsStreamedUnchangedAndWritesNothingLocally()
    {
        var check = fixture.Check();
        var marker = "b8-" + Guid.NewGuid().ToString("N");
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("batch"), "purpose");
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"x\":1}\n"));
        form.Add(file, "file", "../../../../tmp/" + marker);
        using var client = fixture.Relay.CreateClient();
        using var response = await client.PostAsync(new Uri("v1/files", UriKind.Relative), form).DefaultTimeout();
        await check.RecordAsync(response, admitted: true);

        var seen = Assert.Single(check.UpstreamRequests);
        Assert.Contains("../../../../tmp/" + marker, Encoding.UTF8.GetString(seen.Body!), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine("/tmp", marker)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.GetTempPath(), marker + "*"));
        await check.AssertAllAsync();
    }

    private Task<string> SendRawAsync(string target, string token)
        => RawHttp.SendAsync(fixture.Relay.BaseAddress, $"GET {target} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
}

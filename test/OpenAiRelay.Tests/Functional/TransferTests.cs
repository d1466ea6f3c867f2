using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class TransferTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    private const int Size = 20 * 1024 * 1024;

    [Fact]
    public async Task MultipartUpload_PassesByteForByte()
    {
        var file = RandomNumberGenerator.GetBytes(Size);
        using var content = new MultipartFormDataContent("----relay-test-boundary");
        using var filePart = new ByteArrayContent(file);
        filePart.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(filePart, "file", "big.jsonl");
        content.Add(new StringContent("batch"), "purpose");
        var sent = await content.ReadAsByteArrayAsync();

        using var client = fixture.Relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/files") { Content = content };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var fileObject = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(Size, fileObject.GetProperty("bytes").GetInt64());

        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(sent.Length, seen.BodyLength);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(sent)), seen.BodySha256);
    }

    [Fact]
    public async Task TranscriptionUpload_FilePartArrivesIntact()
    {
        var audio = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        using var content = new MultipartFormDataContent();
        using var filePart = new ByteArrayContent(audio);
        filePart.Headers.ContentType = new MediaTypeHeaderValue("audio/mpeg");
        content.Add(filePart, "file", "speech.mp3");
        content.Add(new StringContent("gpt-4o-transcribe"), "model");
        using var client = fixture.Relay.CreateClient();
        using var response = await client.PostAsync(new Uri("v1/audio/transcriptions", UriKind.Relative), content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("text").GetString();
        Assert.Contains($"received {audio.Length} bytes sha256 {Convert.ToHexStringLower(SHA256.HashData(audio))}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BinaryDownload_PassesByteForByte()
    {
        using var client = fixture.Relay.CreateClient();
        using var response = await client.GetAsync(new Uri($"v1/files/file-size-{Size}/content", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer).DefaultTimeout()) > 0)
        {
            sha.AppendData(buffer, 0, read);
            total += read;
        }

        Assert.Equal(Size, total);
        Assert.Equal(FakeContent.Sha256(Size), Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    [Fact]
    public async Task BodyOverTheLimit_Gets413JsonAndNeverReachesUpstream()
    {
        await using var relay = await RelayServer.StartAsync(fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:Limits:DefaultMaxRequestBodySize"] = "1024",
        });
        using var client = relay.CreateClient();
        var before = fixture.Fake.Requests.Count;
        using var response = await client.PostAsync(
            new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("{\"model\":\"x\",\"input\":\"" + new string('a', 4096) + "\"}", System.Text.Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("request_too_large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, fixture.Fake.Requests.Count);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>Large bodies through the shipped nginx site: byte for byte, and streamed rather than spooled to disk.</summary>
public sealed class NginxTransferTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    // 50 MB: far above nginx's default client_max_body_size (1 MB) and its in-memory buffers.
    private const int Size = 50 * 1024 * 1024;

    [Fact]
    public async Task MultipartUpload50MB_ArrivesUpstreamByteForByte()
    {
        using var content = new MultipartFormDataContent("----nginx-test-boundary");
        using var filePart = new ByteArrayContent(RandomNumberGenerator.GetBytes(Size));
        filePart.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(filePart, "file", "big.jsonl");
        content.Add(new StringContent("batch"), "purpose");
        var sent = await content.ReadAsByteArrayAsync();

        var id = Guid.NewGuid().ToString("N");
        using var client = stack.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/files") { Content = content };
        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Size, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("bytes").GetInt64());
        var seen = await stack.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.Equal(sent.LongLength, seen.BodyLength);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(sent)), seen.BodySha256);
        // proxy_request_buffering off: nginx passes the body on as it arrives instead of writing it to a temp file first.
        Assert.DoesNotContain("request body is buffered to a temporary file", stack.Nginx.ErrorLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BinaryDownload50MB_ArrivesByteForByte()
    {
        using var client = stack.CreateClient();
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
        // proxy_buffering off: nginx does not spool the response to a temp file when the client reads slower than the relay writes.
        Assert.DoesNotContain("upstream response is buffered to a temporary file", stack.Nginx.ErrorLog, StringComparison.Ordinal);
    }
}

using System.IO.Compression;
using System.Text;
using FakeOpenAi;
using Microsoft.AspNetCore.Http;
using OpenAiRelay.Metering;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>Work and memory bounded by what arrives, not by what a client or an upstream declares.</summary>
public sealed class BoundedWorkTests
{
    [Fact]
    public async Task BodyDeclaring16MiB_AllocatesForTheBytesThatArrivedNotTheDeclaredLength()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = RequestBodyInspector.MaxInspectedBytes;
        // The client declared 16 MiB and has sent 100 bytes so far (then the test's stream ends).
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("{\"model\":\"gpt-4o-mini\",\"messages\":[]}".PadRight(100)));
        var meter = new RequestMeter("/chat/completions", expectsUsage: true);

        var before = GC.GetAllocatedBytesForCurrentThread();
        await RequestBodyInspector.InspectAsync(context, meter);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.InRange(allocated, 0, 1024 * 1024);
        Assert.Equal("gpt-4o-mini", meter.RequestedModel);
    }

    [Fact]
    public async Task BigBase64Image_UsageIsReadAndTheMeterHoldsLittle()
    {
        // A 20 MB b64_json token followed by the usage, fed in 16 KiB writes as the forwarder copies it.
        var body = Encoding.UTF8.GetBytes("{\"created\":1,\"data\":[{\"b64_json\":\"" + new string('A', 20_000_000)
            + "\"}],\"usage\":{\"input_tokens\":11,\"output_tokens\":5,\"total_tokens\":16}}");
        var walker = new UsageWalker();
        var meter = new JsonBodyMeter(walker);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var offset = 0; offset < body.Length; offset += 16 * 1024)
        {
            meter.OnWrite(body.AsMemory(offset, Math.Min(16 * 1024, body.Length - offset)));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(new TokenUsage(11, 0, 5, 0), walker.Usage);
        // Linear and small: the long string is skipped, not carried and rescanned (that was about 20 MB per write).
        Assert.InRange(allocated, 0, 2L * 1024 * 1024);
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(4093)]
    [InlineData(16 * 1024)]
    public void LongStringWithEscapes_SplitAnywhere_UsageStillRead(int write)
    {
        var body = Encoding.UTF8.GetBytes("{\"data\":[{\"b64_json\":\"" + string.Concat(Enumerable.Repeat("ab\\\"c\\\\", 20_000))
            + "\"}],\"model\":\"gpt-image-1\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}");
        var walker = new UsageWalker();
        var meter = new JsonBodyMeter(walker);
        for (var offset = 0; offset < body.Length; offset += write)
        {
            meter.OnWrite(body.AsMemory(offset, Math.Min(write, body.Length - offset)));
        }

        Assert.Equal(new TokenUsage(3, 0, 4, 0), walker.Usage);
        Assert.Equal("gpt-image-1", walker.Model);
    }

    [Fact]
    public async Task FakeUpstream_CompressesWhenTheClientAccepts()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { RequireAuth = false });
        using var client = new HttpClient { BaseAddress = fake.ApiBaseAddress };
        foreach (var encoding in new[] { "gzip", "br", "deflate" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "chat/completions")
            {
                Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
            using var response = await client.SendAsync(request).DefaultTimeout();
            Assert.Equal(encoding, Assert.Single(response.Content.Headers.ContentEncoding));
            await using var raw = await response.Content.ReadAsStreamAsync();
            await using Stream decoded = encoding switch
            {
                "gzip" => new GZipStream(raw, CompressionMode.Decompress),
                "br" => new BrotliStream(raw, CompressionMode.Decompress),
                _ => new ZLibStream(raw, CompressionMode.Decompress),
            };
            using var reader = new StreamReader(decoded);
            Assert.Contains("\"usage\":{", await reader.ReadToEndAsync(), StringComparison.Ordinal);
        }
    }
}

using System.Text;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>A client that leaves must stop the upstream generation: otherwise it keeps running and billing.</summary>
public sealed class CancellationTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    // Generous for a loaded 2-core CI host; a relay that does not cancel leaves the upstream running for a minute, so
    // the bound still separates "cancelled" from "ran to the end" by a wide margin.
    private static readonly TimeSpan CancelBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ClientLeavesMidStream_UpstreamCallIsCancelled()
    {
        var id = Guid.NewGuid().ToString("N");
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"long"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-events", "600");
        request.Headers.Add("x-fake-event-interval-ms", "100");
        request.Headers.Add("x-test-id", id);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.True(await stream.ReadAsync(buffer).DefaultTimeout() > 0);
        response.Dispose();
        client.Dispose();

        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, CancelBound);
        Assert.True(seen.Aborted);
        Assert.True(seen.EndedAt!.Value - seen.ReceivedAt < TimeSpan.FromSeconds(30), "the upstream ran its whole generation");
    }

    [Fact]
    public async Task ClientLeavesBeforeTheFirstByte_UpstreamCallIsCancelled()
    {
        var id = Guid.NewGuid().ToString("N");
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"o3","messages":[{"role":"user","content":"think"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-delay-ms", "60000");
        request.Headers.Add("x-test-id", id);
        using var cts = new CancellationTokenSource();
        var sending = client.SendAsync(request, cts.Token);
        await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);

        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, CancelBound);
        Assert.True(seen.Aborted);
    }

    [Fact]
    public async Task ClientLeavesMidUpload_UpstreamCallIsCancelled()
    {
        var id = Guid.NewGuid().ToString("N");
        using var client = fixture.Relay.CreateClient();
        var body = new SlowBody(totalBytes: 50 * 1024 * 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/files") { Content = new StreamContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("multipart/form-data") { Parameters = { new("boundary", "x") } };
        request.Headers.Add("x-test-id", id);
        using var cts = new CancellationTokenSource();
        var sending = client.SendAsync(request, cts.Token);
        await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        await body.FirstChunksSent.Task.DefaultTimeout();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);

        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, CancelBound);
        // Both: the upstream saw its call end early (not a whole body answered normally), and not all of the body came.
        Assert.True(seen.Aborted, $"the upstream call ended with status {seen.StatusCode}, not aborted");
        Assert.True(seen.BodyLength < 50 * 1024 * 1024);
    }

    /// <summary>A request body that trickles out, so the test can leave in the middle of it.</summary>
    private sealed class SlowBody(long totalBytes) : Stream
    {
        private long _sent;

        public TaskCompletionSource FirstChunksSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => totalBytes;

        public override long Position { get => _sent; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_sent >= totalBytes)
            {
                return 0;
            }

            if (_sent > 256 * 1024)
            {
                FirstChunksSent.TrySetResult();
                await Task.Delay(50, cancellationToken);
            }

            if (_sent == 0)
            {
                // A well-formed multipart preamble, so the upstream is busy reading the file part when the client leaves.
                var preamble = "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"u8;
                preamble.CopyTo(buffer.Span);
                _sent = preamble.Length;
                return preamble.Length;
            }

            var count = (int)Math.Min(buffer.Length, Math.Min(16 * 1024, totalBytes - _sent));
            buffer.Span[..count].Fill((byte)'y');
            _sent += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OpenAiRelay.Configuration;
using OpenAiRelay.Limits;

namespace OpenAiRelay.Tests.Limits;

/// <summary>
/// The stall rule on a virtual clock: only a write the client leaves pending for the whole limit closes the connection;
/// a quiet response (nothing written) and writes that complete in time never do. The end-to-end case, a 100 MB download
/// read at 100 B/s, is Security/SlowClientTests.
/// </summary>
public sealed class StalledClientStageTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly CountingTime _time = new();

    [Fact]
    public async Task AWritePendingForTheWholeLimit_AbortsTheRequest()
    {
        var (context, client, lifetime) = NewContext();
        var body = await RunStageAsync(context);

        var write = body.WriteAsync(new byte[10]).AsTask();
        _time.Advance(Limit - TimeSpan.FromSeconds(1));
        Assert.False(lifetime.Aborted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(lifetime.Aborted);

        // The write Kestrel completes after the abort fails, and so does every later one: the copy loop stops there
        // instead of draining the upstream into a closed connection.
        client.CompleteWrite();
        await Assert.ThrowsAsync<IOException>(() => write);
        await Assert.ThrowsAsync<IOException>(() => body.WriteAsync(new byte[10]).AsTask());
        await Assert.ThrowsAsync<IOException>(() => body.FlushAsync());
    }

    [Fact]
    public async Task APendingFlush_IsWatchedTheSameWay()
    {
        var (context, client, lifetime) = NewContext();
        var body = await RunStageAsync(context);

        var flush = body.FlushAsync();
        _time.Advance(Limit);
        Assert.True(lifetime.Aborted);
        client.CompleteWrite();
        await Assert.ThrowsAsync<IOException>(() => flush);
    }

    [Fact]
    public async Task WritesThatCompleteInTime_AndAQuietHour_NeverAbort()
    {
        var (context, client, lifetime) = NewContext();
        var body = await RunStageAsync(context);

        for (var i = 0; i < 5; i++)
        {
            // Each write waits most of the limit: the limit is per write, not a sum over the response.
            var write = body.WriteAsync(new byte[10]).AsTask();
            _time.Advance(Limit - TimeSpan.FromSeconds(1));
            client.CompleteWrite();
            await write;
        }

        // A quiet upstream (nothing written, as a reasoning model thinks) is not the client's stall.
        _time.Advance(TimeSpan.FromHours(1));
        Assert.False(lifetime.Aborted);
    }

    [Fact]
    public async Task WritesTheClientTakesAtOnce_CostNoTimer()
    {
        var (context, client, lifetime) = NewContext();
        client.Immediate = true;
        var body = await RunStageAsync(context);

        await body.WriteAsync(new byte[10]);
        await body.FlushAsync();
        Assert.Equal(0, _time.TimersCreated);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.False(lifetime.Aborted);
    }

    [Fact]
    public async Task AnUpgradableRequest_OrALimitOfZero_IsNotWrapped()
    {
        var (upgrade, upgradeClient, _) = NewContext();
        upgrade.Features.Set<IHttpUpgradeFeature>(new Upgradable());
        Assert.Same(upgradeClient, await RunStageAsync(upgrade));

        var (off, offClient, _) = NewContext();
        Assert.Same(offClient, await RunStageAsync(off, TimeSpan.Zero));
    }

    private async Task<Stream> RunStageAsync(HttpContext context, TimeSpan? limit = null)
    {
        Stream? seen = null;
        var stage = new StalledClientStage(
            c =>
            {
                seen = c.Response.Body;
                return Task.CompletedTask;
            },
            Options.Create(new TimeoutOptions { StalledClient = limit ?? Limit }),
            _time,
            NullLogger<StalledClientStage>.Instance);
        await stage.InvokeAsync(context);
        return seen!;
    }

    private static (HttpContext Context, ControlledClient Client, RecordingLifetime Lifetime) NewContext()
    {
        var context = new DefaultHttpContext();
        var lifetime = new RecordingLifetime();
        context.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        var client = new ControlledClient();
        context.Response.Body = client;
        return (context, client, lifetime);
    }

    private sealed class CountingTime : FakeTimeProvider
    {
        public int TimersCreated { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            TimersCreated++;
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    private sealed class RecordingLifetime : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted { get; set; }

        public bool Aborted { get; private set; }

        public void Abort() => Aborted = true;
    }

    private sealed class Upgradable : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => true;

        public Task<Stream> UpgradeAsync() => throw new NotSupportedException();
    }

    /// <summary>The client's side of the response: a write completes when the test says the client took it.</summary>
    private sealed class ControlledClient : Stream
    {
        private TaskCompletionSource _taken = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Immediate { get; set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void CompleteWrite()
        {
            var taken = _taken;
            _taken = new(TaskCreationOptions.RunContinuationsAsynchronously);
            taken.SetResult();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            Immediate ? ValueTask.CompletedTask : new ValueTask(_taken.Task);

        public override Task FlushAsync(CancellationToken cancellationToken) => Immediate ? Task.CompletedTask : _taken.Task;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// Runs alone: the idle-connection tests hold thousands of sockets (their latency figure should be the relay's, not the
/// suite's), and the slow-client tests judge 30 s of wall-clock behaviour.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IdleConnectionCollection
{
    public const string Name = "idle connections";
}

/// <summary>
/// Connection exhaustion (threat model C12), bounded: 5,000 idle TCP connections and 1,000 idle Realtime WebSockets held
/// open on one relay at once, within Kestrel's caps (10,000 connections, 2,000 upgraded). While they are held the relay
/// keeps every one of them, answers <c>/healthz</c> quickly, relays a real request, and an idle WebSocket still works.
/// </summary>
[Collection(IdleConnectionCollection.Name)]
public sealed partial class IdleConnectionTests : IAsyncLifetime
{
    private const int IdleTcp = 5_000;
    private const int IdleWebSockets = 1_000;

    private readonly List<Socket> _sockets = [];
    private readonly List<ClientWebSocket> _webSockets = [];
    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;

    public async Task InitializeAsync()
    {
        // Client, relay and fake share this process: about 2 descriptors per idle TCP connection, 4 per WebSocket.
        FileDescriptors.EnsureAtLeast((2 * IdleTcp) + (4 * IdleWebSockets) + 2_000);
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, RecordRequests = false });
        _relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString());
    }

    public async Task DisposeAsync()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        foreach (var webSocket in _webSockets)
        {
            webSocket.Abort();
            webSocket.Dispose();
        }

        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task FiveThousandIdleConnections_AndAThousandIdleWebSockets_LeaveTheRelayAnswering()
    {
        var watch = Stopwatch.StartNew();
        await InBatchesAsync(IdleTcp, async _ =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(_relay.BaseAddress.Host, _relay.BaseAddress.Port);
            lock (_sockets)
            {
                _sockets.Add(socket);
            }
        });
        await InBatchesAsync(IdleWebSockets, async _ =>
        {
            var webSocket = new ClientWebSocket();
            webSocket.Options.SetRequestHeader("Authorization", "Bearer " + RelayServer.ClientToken);
            webSocket.Options.AddSubProtocol("realtime");
            await webSocket.ConnectAsync(RealtimeUri(), CancellationToken.None);
            Assert.Equal("session.created", (await webSocket.ReceiveJsonAsync()).GetProperty("type").GetString());
            lock (_webSockets)
            {
                _webSockets.Add(webSocket);
            }
        });
        var opened = watch.Elapsed;

        // /healthz on a fresh connection each time, 20 times: the median is the figure, the worst is reported.
        using var health = new HttpClient { BaseAddress = _relay.BaseAddress };
        var times = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, "healthz");
            probe.Headers.ConnectionClose = true;
            var probeWatch = Stopwatch.StartNew();
            using var answer = await health.SendAsync(probe).DefaultTimeout();
            times.Add(probeWatch.Elapsed.TotalMilliseconds);
            Assert.True(answer.IsSuccessStatusCode);
        }

        times.Sort();
        var median = times[times.Count / 2];
        Assert.True(median < 100, $"/healthz median {median:F1} ms (worst {times[^1]:F1} ms) with {IdleTcp} idle connections and {IdleWebSockets} WebSockets held, opened in {opened}");

        // A real request still completes, and an idle WebSocket from the start still carries a response.
        using var client = _relay.CreateClient();
        using var chat = await client.PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }).DefaultTimeout();
        Assert.True(chat.IsSuccessStatusCode);
        using (var body = JsonDocument.Parse(await chat.Content.ReadAsStringAsync()))
        {
            Assert.True(body.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        }

        var first = _webSockets[0];
        await first.SendAsync("""{"type":"response.create"}"""u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        while ((await first.ReceiveJsonAsync()).GetProperty("type").GetString() != "response.done")
        {
        }

        // Nothing was shed: no idle connection saw a close, every WebSocket is still open.
        Assert.DoesNotContain(_sockets, s => s.Poll(0, SelectMode.SelectRead));
        Assert.All(_webSockets, w => Assert.Equal(WebSocketState.Open, w.State));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(50), $"took {watch.Elapsed}");
    }

    private Uri RealtimeUri() => new(_relay.BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/realtime?model=gpt-realtime");

    private static async Task InBatchesAsync(int count, Func<int, Task> open)
    {
        // 100 at a time: well inside the listen backlog, so a refusal would be the relay's, not the kernel's queue.
        for (var start = 0; start < count; start += 100)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(100, count - start)).Select(open)).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Raises this process's soft descriptor limit towards the hard one; .NET has no managed API for it.</summary>
    private static partial class FileDescriptors
    {
        private const int ResourceNoFile = 7;

        public static void EnsureAtLeast(ulong needed)
        {
            var limit = default(ResourceLimit);
            Assert.Equal(0, GetResourceLimit(ResourceNoFile, ref limit));
            if (limit.Current >= needed)
            {
                return;
            }

            Assert.True(limit.Maximum >= needed, $"this machine allows {limit.Maximum} open files per process; the test needs {needed}");
            limit.Current = needed;
            Assert.Equal(0, SetResourceLimit(ResourceNoFile, ref limit));
        }

        [LibraryImport("libc", EntryPoint = "getrlimit")]
        private static partial int GetResourceLimit(int resource, ref ResourceLimit limit);

        [LibraryImport("libc", EntryPoint = "setrlimit")]
        private static partial int SetResourceLimit(int resource, ref ResourceLimit limit);

        [StructLayout(LayoutKind.Sequential)]
        private struct ResourceLimit
        {
            public ulong Current;
            public ulong Maximum;
        }
    }
}

using Microsoft.AspNetCore.Http.Features;
using FakeOpenAi.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace FakeOpenAi;

/// <summary>
/// An OpenAI-compatible upstream on a real Kestrel socket (127.0.0.1), for functional tests and benchmarks.
/// Serves the wire formats of docs/openai-wire (JSON, SSE, multipart, binary, WebSocket), records every request,
/// and misbehaves on demand through <see cref="Faults"/> or <c>x-fake-*</c> request headers.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeState _state;

    private FakeOpenAiServer(WebApplication app, FakeState state, Uri baseAddress)
    {
        _app = app;
        _state = state;
        BaseAddress = baseAddress;
        ApiBaseAddress = new Uri(baseAddress, "v1/");
    }

    /// <summary>Root of the server, e.g. <c>http://127.0.0.1:41234/</c>; the API lives under <c>/v1</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary><c>http://127.0.0.1:PORT/v1/</c>: what an SDK takes as its base URL / endpoint.</summary>
    public Uri ApiBaseAddress { get; }

    /// <summary>The bearer key the fake accepts.</summary>
    public string ApiKey => _state.Options.ApiKey;

    public FakeOpenAiOptions Options => _state.Options;

    /// <summary>A snapshot of the recorded requests in arrival order (empty when recording is off).</summary>
    public IReadOnlyList<RecordedRequest> Requests => _state.Log.Snapshot();

    /// <summary>Programmatic fault injection; each queued fault is used by one request.</summary>
    public FaultQueue Faults => _state.Faults;

    /// <summary>Files uploaded through <c>POST /v1/files</c> (size and hash only), newest first.</summary>
    public IReadOnlyList<UploadedFile> UploadedFiles => _state.Files.All;

    public static async Task<FakeOpenAiServer> StartAsync(FakeOpenAiOptions? options = null, CancellationToken cancellationToken = default)
    {
        var state = new FakeState(options ?? new FakeOpenAiOptions(), TimeProvider.System);
        var app = FakeApp.Build(state);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new FakeOpenAiServer(app, state, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>Completes when a matching request has been received (its headers, before its body).</summary>
    public Task<RecordedRequest> WaitForRequestAsync(Func<RecordedRequest, bool> match, TimeSpan timeout) =>
        _state.Log.WaitAsync(match, ended: false, timeout);

    /// <summary>Completes when a matching request has ended: answered in full, aborted by the client, or reset by the fake.</summary>
    public Task<RecordedRequest> WaitForEndAsync(Func<RecordedRequest, bool> match, TimeSpan timeout) =>
        _state.Log.WaitAsync(match, ended: true, timeout);

    public void ClearRequests() => _state.Log.Clear();

    public async ValueTask DisposeAsync()
    {
        // Streams that are stalled on purpose would otherwise hold shutdown for the default 30 s.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync();
    }

    public override string ToString() => BaseAddress.ToString();
}

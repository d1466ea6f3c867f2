namespace FakeOpenAi;

/// <summary>Settings for one <see cref="FakeOpenAiServer"/>. Everything has a default that suits a functional test.</summary>
public sealed class FakeOpenAiOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 (the default) lets the OS pick a free one.</summary>
    public int Port { get; init; }

    /// <summary>The only key accepted as <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public string ApiKey { get; init; } = "sk-fake-upstream-key";

    /// <summary>Whether requests without the right bearer key get the 401 <c>invalid_api_key</c> body.</summary>
    public bool RequireAuth { get; init; } = true;

    /// <summary>Gap between two streamed events (SSE or WebSocket); zero streams as fast as the socket allows.</summary>
    public TimeSpan StreamEventInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Number of content deltas in a stream (and words in a non-streamed reply) unless <c>x-fake-events</c> says otherwise.</summary>
    public int DefaultEventCount { get; init; } = 5;

    /// <summary>Size of <c>/v1/audio/speech</c> bodies unless <c>x-fake-size</c> says otherwise.</summary>
    public long DefaultBinarySize { get; init; } = 64 * 1024;

    /// <summary>
    /// Whether requests are recorded (headers, body hash, outcome). The benchmark turns this off so that the fake
    /// neither hashes bodies nor grows a list under load.
    /// </summary>
    public bool RecordRequests { get; init; } = true;

    /// <summary>Oldest recorded requests are dropped past this count, so a long-lived fake keeps flat memory.</summary>
    public int MaxRecordedRequests { get; init; } = 10_000;
}

using FakeOpenAi.Endpoints;
using FakeOpenAi.Recording;

namespace FakeOpenAi.Hosting;

/// <summary>Everything one fake server shares between requests.</summary>
internal sealed class FakeState(FakeOpenAiOptions options, TimeProvider timeProvider)
{
    public FakeOpenAiOptions Options { get; } = options;

    public TimeProvider Time { get; } = timeProvider;

    public FaultQueue Faults { get; } = new();

    public RequestLog Log { get; } = new(options.MaxRecordedRequests);

    public FileStore Files { get; } = new();

    public Stored.StoredObjects Stored { get; } = new(timeProvider);

    public Stored.StoredCollection<Stored.UploadPart> UploadParts { get; } = new();

    /// <summary>Models the finished fine-tuning jobs made, listed by <c>GET /v1/models</c> after the base models.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Id, long Created)> FineTunedModels { get; } = new();

    public long UnixNow => Time.GetUtcNow().ToUnixTimeSeconds();
}

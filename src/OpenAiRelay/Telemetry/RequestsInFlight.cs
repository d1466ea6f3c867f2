using System.Collections.Concurrent;
using System.Diagnostics;
using OpenAiRelay.Authentication;
using OpenAiRelay.Metering;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The <c>/v1</c> requests this process is serving now, for the console's live page: <see cref="RequestRecordMiddleware"/>
/// adds a request when it starts and removes it in its <c>finally</c>, so a request that failed or was cancelled leaves
/// too. A request costs one add and one remove in a concurrent dictionary; everything else is read only when somebody
/// looks.
/// </summary>
internal sealed class RequestsInFlight(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> _requests = new(StringComparer.Ordinal);

    public int Count => _requests.Count;

    public void Add(string requestId, HttpContext context, long startTimestamp)
        => _requests[requestId] = new Entry(context, startTimestamp, time.GetUtcNow());

    public void Remove(string requestId) => _requests.TryRemove(requestId, out _);

    /// <summary>Up to <paramref name="limit"/> requests, the longest-running first.</summary>
    public IReadOnlyList<InFlightRequest> List(int limit)
    {
        var now = Stopwatch.GetTimestamp();
        var listed = new List<InFlightRequest>();
        foreach (var (requestId, entry) in _requests.ToArray().OrderBy(r => r.Value.StartTimestamp).Take(limit))
        {
            if (Describe(requestId, entry, now) is { } request)
            {
                listed.Add(request);
            }
        }

        return listed;
    }

    private static InFlightRequest? Describe(string requestId, Entry entry, long now)
    {
        try
        {
            // The stages fill these features in as the request advances; reading them is a lookup that changes
            // nothing, and a stage that has not run yet leaves its part null.
            var features = entry.Context.Features;
            return new InFlightRequest(
                requestId,
                entry.Context.Request.Method,
                entry.Context.Request.Path.Value ?? string.Empty,
                features.Get<IClientFeature>()?.Client.Label,
                features.Get<IClientFeature>()?.Client.KeyId,
                features.Get<IRequestBodyFeature>()?.Model,
                features.Get<IUpstreamResponseFeature>()?.Stream ?? ResponseStreamKind.None,
                entry.StartedAt,
                Stopwatch.GetElapsedTime(entry.StartTimestamp, now));
        }
        catch (ObjectDisposedException)
        {
            // It finished while being listed (its context was returned to the server's pool): it is no longer in flight.
            return null;
        }
    }

    private sealed record Entry(HttpContext Context, long StartTimestamp, DateTimeOffset StartedAt);
}

/// <summary>One request in flight as the live page shows it: never a header, body or token; the client by its label.</summary>
internal sealed record InFlightRequest(
    string RequestId, string Method, string Path, string? ClientLabel, string? KeyId, string? Model, ResponseStreamKind Stream, DateTimeOffset StartedAt, TimeSpan Elapsed);

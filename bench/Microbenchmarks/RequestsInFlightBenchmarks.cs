using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using OpenAiRelay.Telemetry;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>
/// What the web console's live view costs every /v1 request: one registration when the request starts and one removal
/// when it ends, with a few hundred other requests in flight (a busy relay).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class RequestsInFlightBenchmarks
{
    private readonly RequestsInFlight _inFlight = new(TimeProvider.System);
    private readonly DefaultHttpContext _context = new();
    private readonly string _requestId = Guid.CreateVersion7().ToString("N");

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < 500; i++)
        {
            _inFlight.Add(Guid.CreateVersion7().ToString("N"), new DefaultHttpContext(), 0);
        }
    }

    [Benchmark]
    public void AddAndRemove()
    {
        _inFlight.Add(_requestId, _context, 0);
        _inFlight.Remove(_requestId);
    }
}

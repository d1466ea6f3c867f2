using BenchmarkDotNet.Attributes;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>Every relayed request is classified once to pick its idle timeout and body limit.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class EndpointClassificationBenchmarks
{
    [Params("/chat/completions", "/files/file-abc/content", "/models", "/Chat/Completions")]
    public string Remainder { get; set; } = "";

    [Benchmark]
    public int Classify() => (int)EndpointFamilies.Classify(Remainder);
}

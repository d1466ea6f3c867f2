using System.Text;
using BenchmarkDotNet.Attributes;
using OpenAiRelay.Isolation;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>
/// What per-key isolation adds to a request before any lookup: classifying its path, and finding the object ids its
/// JSON body names. A chat request names none, so its body is only scanned for the few byte patterns an id field needs;
/// a body that names one is walked once. The owner lookup itself is a cached dictionary read (a database read the
/// first time an instance sees an id).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class IsolationBenchmarks
{
    private static readonly byte[] s_chat = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about the sea, then explain its imagery in two sentences."}],"max_tokens":256,"stream":true}""");

    private static readonly byte[] s_toolCall = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"weather?"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"sunny"}]}""");

    private static readonly byte[] s_chained = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","input":"and then?","previous_response_id":"resp_68a1b2c3d4e5f60718293a4b5c6d7e8f","tools":[{"type":"file_search","vector_store_ids":["vs_abc123"]}]}""");

    [Benchmark]
    public object? ClassifyChatPath() => ObjectRoute.Parse("/chat/completions").Family;

    [Benchmark]
    public object? ClassifyFileContentPath() => ObjectRoute.Parse("/files/file-abc123/content").ObjectId;

    [Benchmark]
    public int FindIdsInAChatBody() => ObjectReferences.Find(s_chat).Count;

    [Benchmark]
    public int FindIdsInAToolCallBody() => ObjectReferences.Find(s_toolCall).Count;

    [Benchmark]
    public int FindIdsInAChainedResponse() => ObjectReferences.Find(s_chained).Count;
}

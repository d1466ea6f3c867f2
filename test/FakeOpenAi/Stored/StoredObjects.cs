using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace FakeOpenAi.Stored;

/// <summary>The fake's object store, by id (responses, stored chat completions, batches), in creation order.</summary>
internal sealed class StoredObjects
{
    private readonly ConcurrentDictionary<string, StoredObject> _objects = new(StringComparer.Ordinal);

    public StoredObject Put(ReadOnlyMemory<byte> json, int pollsLeft = 0)
    {
        var node = (JsonObject)JsonNode.Parse(json.Span)!;
        var stored = new StoredObject(node, pollsLeft);
        _objects[node["id"]!.GetValue<string>()] = stored;
        return stored;
    }

    public StoredObject? Get(string id) => _objects.GetValueOrDefault(id);

    public bool Remove(string id) => _objects.TryRemove(id, out _);
}

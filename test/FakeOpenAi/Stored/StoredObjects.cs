using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace FakeOpenAi.Stored;

/// <summary>The fake's JSON object store: one <see cref="StoredCollection{T}"/> per family, created on first use.</summary>
internal sealed class StoredObjects(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, StoredCollection<StoredObject>> _families = new(StringComparer.Ordinal);

    public StoredCollection<StoredObject> Of(ObjectFamily family) => _families.GetOrAdd(family.Key, static _ => new StoredCollection<StoredObject>());

    /// <summary>Keeps a JSON body under its own <c>id</c>, positioned by its <c>created_at</c> (or chat's <c>created</c>).</summary>
    public StoredObject Put(ObjectFamily family, ReadOnlyMemory<byte> json, int pollsLeft = 0) =>
        Put(family, string.Empty, (JsonObject)JsonNode.Parse(json.Span)!, pollsLeft);

    public StoredObject Put(ObjectFamily family, string scope, JsonObject node, int pollsLeft = 0)
    {
        var created = (node["created_at"] ?? node["created"]) is JsonValue value && value.TryGetValue<long>(out var seconds)
            ? seconds
            : time.GetUtcNow().ToUnixTimeSeconds();
        return Of(family).Add(scope, node["id"]!.GetValue<string>(), created, new StoredObject(node, pollsLeft));
    }

    public StoredObject? Get(ObjectFamily family, string id, string scope = "") => Of(family).Get(scope, id);
}

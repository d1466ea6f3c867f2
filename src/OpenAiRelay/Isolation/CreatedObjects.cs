using System.Text.Json;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Isolation;

/// <summary>
/// The objects a response shows were created for the caller: the created object itself (its top-level <c>id</c>, or
/// <c>response.id</c> of a stream's <c>response.created</c>), and what it made as a side effect: the file of a completed
/// upload, the thread of a run created with its thread, the output and error files of a batch, the model a
/// fine-tuning job trained.
/// </summary>
internal static class CreatedObjects
{
    private static readonly (string Field, string Kind)[] s_sideEffects =
        [("output_file_id", "file"), ("error_file_id", "file"), ("thread_id", "thread"), ("fine_tuned_model", "model")];

    /// <param name="created">The family whose collection the request created in: its object's id is taken whatever its
    /// prefix (a family whose ids have no prefix the relay knows, such as skills); null for an event of a session.</param>
    public static IReadOnlyList<OwnedObject> Read(JsonElement root, string ownerKeyId, DateTimeOffset now, ObjectFamily? created = null)
    {
        var found = new List<OwnedObject>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            return found;
        }

        // An event of a stream names the object it is about: {"type":"response.created","response":{"id":...}}.
        var made = root.TryGetProperty("response", out var nested) && nested.ValueKind == JsonValueKind.Object ? nested : root;
        Add(found, made, ownerKeyId, now, anyId: created is { Prefix.Length: 0 });
        if (made.TryGetProperty("file", out var file) && file.ValueKind == JsonValueKind.Object)
        {
            Add(found, file, ownerKeyId, now);
        }

        foreach (var (name, kind) in s_sideEffects)
        {
            if (made.TryGetProperty(name, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { } value && ObjectReferences.LooksLikeObjectId(value))
            {
                found.Add(new OwnedObject(value, kind, ownerKeyId, null, now));
            }
        }

        return found;
    }

    private static void Add(List<OwnedObject> found, JsonElement element, string ownerKeyId, DateTimeOffset now, bool anyId = false)
    {
        if (!element.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 } value
            || !(anyId || ObjectReferences.LooksLikeObjectId(value)))
        {
            return;
        }

        var kind = element.TryGetProperty("object", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString()! : "object";
        // Ordered in a key's lists by when the relay saw it made (sub-second, unlike the upstream's created_at), and
        // listed as it was then until its owner reads it again.
        // Its JSON is kept only for what a key's lists show (files, batches, ...): a response's or a conversation's
        // content is nothing the relay needs to hold.
        found.Add(new OwnedObject(value, kind, ownerKeyId, null, now, ObjectFamily.IsListed(kind) ? element.GetRawText() : null));
    }
}

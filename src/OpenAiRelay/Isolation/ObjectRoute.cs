namespace OpenAiRelay.Isolation;

/// <summary>
/// What a <c>/v1</c> path says about stored upstream objects: the family it addresses, the id of the top-level object
/// it names (the one whose owner decides: deeper ids, such as a conversation's items or a vector store's files, are
/// scoped by it upstream), and whether it creates, lists or deletes.
/// </summary>
internal readonly record struct ObjectRoute(ObjectFamily? Family, string? ObjectId, int Depth)
{
    /// <summary>A request on the family's collection itself (<c>POST /v1/files</c>, <c>GET /v1/files</c>).</summary>
    public bool IsCollection => Family is not null && ObjectId is null;

    /// <summary>The object itself, with nothing after its id (<c>DELETE /v1/files/{id}</c>).</summary>
    public bool IsObject => ObjectId is not null && Depth == 0;

    /// <summary>Classifies <paramref name="remainder"/>, the path after <c>/v1</c> (<c>/files/file-abc/content</c>).</summary>
    public static ObjectRoute Parse(ReadOnlySpan<char> remainder)
    {
        var path = remainder.Trim('/');
        foreach (var family in ObjectFamily.All)
        {
            // Any case: an upstream that routes /v1/FILES as /v1/files must not see it unchecked.
            if (!path.StartsWith(family.Collection, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var rest = path[family.Collection.Length..];
            if (rest.IsEmpty)
            {
                return new ObjectRoute(family, null, 0);
            }

            if (rest[0] != '/')
            {
                continue;
            }

            rest = rest[1..];
            var slash = rest.IndexOf('/');
            var id = slash < 0 ? rest : rest[..slash];
            if (id.IsEmpty || family.IsLiteral(id))
            {
                // A verb of the collection (POST /v1/responses/input_tokens, POST /v1/threads/runs): no object named.
                return new ObjectRoute(family, null, 1);
            }

            if (family.OnlyOwnIds && !id.StartsWith(family.Prefix, StringComparison.Ordinal))
            {
                // GET /v1/models/gpt-4o: not an object anyone owns.
                return default;
            }

            var depth = slash < 0 ? 0 : rest[(slash + 1)..].Count('/') + 1;
            return new ObjectRoute(family, id.ToString(), depth);
        }

        return default;
    }
}

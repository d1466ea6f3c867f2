using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Primitives;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Isolation;

/// <summary>
/// A key's own page of a family's list (<c>GET /v1/files</c>, <c>/v1/batches</c>, ...), served from the objects
/// recorded as its, with OpenAI's cursor pagination: <c>limit</c> (1 to 100, default 20; files 10,000), <c>after</c> and
/// <c>before</c> (an id of the list), <c>order</c>, and the family's filters (<c>purpose</c>, <c>model</c>,
/// <c>metadata[k]</c>). A page holds up to <c>limit</c> of the key's objects, <c>has_more</c> is true only when more of
/// them follow, and another key's objects never count: the upstream is not asked, so no foreign id can appear.
/// </summary>
internal static class OwnedObjectList
{
    /// <summary>Rows read per round from the store while filters drop some.</summary>
    private const int Chunk = 200;

    public static async Task WriteAsync(HttpContext context, ObjectFamily family, string keyId, ObjectOwnershipStore store)
    {
        var query = context.Request.Query;
        var limit = int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var asked) ? Math.Clamp(asked, 1, family.MaxLimit) : family.DefaultLimit;
        var ascending = query["order"].ToString() switch
        {
            "asc" => true,
            "desc" => false,
            _ => family.OldestFirst,
        };
        var filters = Filters(family, query);
        var cancellationToken = context.RequestAborted;

        // "before" walks the other way from its cursor, and the page is turned back into list order.
        string? cursorId = query["after"].ToString() is { Length: > 0 } after ? after : null;
        var backwards = false;
        if (cursorId is null && query["before"].ToString() is { Length: > 0 } before)
        {
            cursorId = before;
            backwards = true;
        }

        OwnedObject? cursor = null;
        if (cursorId is not null)
        {
            cursor = await store.GetAsync(cursorId, cancellationToken);
            if (cursor is null || cursor.OwnerKeyId != keyId || cursor.Kind != family.Listed)
            {
                // Not one of this key's: as OpenAI answers a cursor it does not know, an empty page.
                await WritePageAsync(context, [], hasMore: false);
                return;
            }
        }

        var page = new List<JsonElement>(limit + 1);
        var position = cursor;
        while (page.Count <= limit)
        {
            var rows = await store.PageAsync(keyId, family.Listed!, position, ascending != backwards, Chunk, cancellationToken);
            foreach (var row in rows)
            {
                using var document = JsonDocument.Parse(row.Snapshot!);
                if (Matches(document.RootElement, filters))
                {
                    page.Add(document.RootElement.Clone());
                    if (page.Count > limit)
                    {
                        break;
                    }
                }
            }

            if (rows.Count < Chunk)
            {
                break;
            }

            position = rows[^1];
        }

        var hasMore = page.Count > limit;
        if (hasMore)
        {
            page.RemoveAt(page.Count - 1);
        }

        if (backwards)
        {
            page.Reverse();
        }

        await WritePageAsync(context, page, hasMore);
    }

    private static List<(string[] Path, string Value)> Filters(ObjectFamily family, IQueryCollection query)
    {
        var filters = new List<(string[], string)>();
        foreach (var name in family.Filters)
        {
            if (query[name].ToString() is { Length: > 0 } value)
            {
                filters.Add(([name], value));
            }
        }

        foreach (var (name, value) in query)
        {
            // metadata[k]=v, as the stored chat completions list takes it.
            if (name.StartsWith("metadata[", StringComparison.Ordinal) && name.EndsWith(']') && !StringValues.IsNullOrEmpty(value))
            {
                filters.Add((["metadata", name[9..^1]], value.ToString()));
            }
        }

        return filters;
    }

    private static bool Matches(JsonElement item, List<(string[] Path, string Value)> filters)
    {
        foreach (var (path, value) in filters)
        {
            var current = item;
            foreach (var step in path)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(step, out current))
                {
                    return false;
                }
            }

            if (current.ValueKind != JsonValueKind.String || current.GetString() != value)
            {
                return false;
            }
        }

        return true;
    }

    private static async Task WritePageAsync(HttpContext context, List<JsonElement> page, bool hasMore)
    {
        var response = context.Response;
        response.Headers[Pipeline.RelayHeaders.RequestId] = context.TraceIdentifier;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var item in page)
            {
                item.WriteTo(writer);
            }

            writer.WriteEndArray();
            WriteId(writer, "first_id", page.Count > 0 ? page[0] : null);
            WriteId(writer, "last_id", page.Count > 0 ? page[^1] : null);
            writer.WriteBoolean("has_more", hasMore);
            writer.WriteEndObject();
        }

        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    private static void WriteId(Utf8JsonWriter writer, string name, JsonElement? item)
    {
        if (item is { } element && element.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
        {
            writer.WriteString(name, id.GetString());
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}

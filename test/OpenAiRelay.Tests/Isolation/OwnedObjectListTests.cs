using System.Text.Json;
using CsCheck;
using Microsoft.AspNetCore.Http;
using OpenAiRelay.Isolation;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>
/// Property: whatever mix of two keys' objects the store holds, walking a key's list page by page (as the SDKs do,
/// <c>after=last_id</c> while <c>has_more</c>) yields exactly its own objects, once each, in order, in pages of at
/// most <c>limit</c> that are full whenever more follow; filters keep only what matches.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OwnedObjectListTests(PostgresServer postgres)
{
    [Fact]
    public async Task WalkingAKeysListPages_YieldsExactlyItsOwnObjectsInOrder()
    {
        await using var target = await StoreTarget.CreateAsync(StoreTarget.Sqlite, postgres);
        var store = new ObjectOwnershipStore(target.Database);
        var files = FamilyOf("files");
        var t0 = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var case_ = 0;

        // Owners of a sequence of objects (true: the key's), the page size, the order and whether to filter by purpose.
        var gen = Gen.Select(Gen.Bool.Array[0, 40], Gen.Int[1, 7], Gen.Bool, Gen.Bool);
        await gen.SampleAsync(async (owners, limit, ascending, filtered) =>
        {
            var key = "key" + case_++;
            var objects = owners.Select((mine, i) => new OwnedObject(
                $"file-{key}x{i:D3}", "file", mine ? key : "other" + key, null, t0.AddMilliseconds(i / 2),
                $$"""{"id":"file-{{key}}x{{i:D3}}","object":"file","purpose":"{{(i % 3 == 0 ? "batch" : "assistants")}}"}""")).ToList();
            await store.RecordAsync(objects, CancellationToken.None);

            var expected = objects.Where(o => o.OwnerKeyId == key && (!filtered || o.Snapshot!.Contains("\"batch\"", StringComparison.Ordinal)))
                .OrderBy(o => o.CreatedAt).ThenBy(o => o.ObjectId, StringComparer.Ordinal).Select(o => o.ObjectId).ToList();
            if (!ascending)
            {
                expected.Reverse();
            }

            var walked = new List<string>();
            string? after = null;
            while (true)
            {
                var query = $"?limit={limit}&order={(ascending ? "asc" : "desc")}" + (filtered ? "&purpose=batch" : string.Empty) + (after is null ? string.Empty : "&after=" + after);
                var page = await PageAsync(files, key, query, store);
                var ids = page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
                var hasMore = page.GetProperty("has_more").GetBoolean();
                if (ids.Count > limit || (hasMore && ids.Count < limit))
                {
                    return false;
                }

                walked.AddRange(ids);
                if (!hasMore)
                {
                    break;
                }

                after = page.GetProperty("last_id").GetString();
            }

            return walked.SequenceEqual(expected);
        }, iter: 60);
    }

    private static ObjectFamily FamilyOf(string collection)
    {
        foreach (var family in ObjectFamily.All)
        {
            if (family.Collection == collection)
            {
                return family;
            }
        }

        throw new InvalidOperationException(collection);
    }

    private static async Task<JsonElement> PageAsync(ObjectFamily family, string key, string query, ObjectOwnershipStore store)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(query);
        using var body = new MemoryStream();
        context.Response.Body = body;
        await OwnedObjectList.WriteAsync(context, family, key, store);
        return JsonDocument.Parse(body.ToArray()).RootElement.Clone();
    }
}

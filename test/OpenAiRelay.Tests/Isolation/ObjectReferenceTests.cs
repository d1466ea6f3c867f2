using System.Text;
using System.Text.Json;
using CsCheck;
using OpenAiRelay.Isolation;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>The ids a request names, in its path and in its JSON body: found wherever the API puts them, and nowhere else.</summary>
public sealed class ObjectReferenceTests
{
    [Theory]
    [InlineData("/files", "files", null, 0)]
    [InlineData("/files/file-abc", "files", "file-abc", 0)]
    [InlineData("/files/file-abc/content", "files", "file-abc", 1)]
    [InlineData("/FILES/file-abc/content", "files", "file-abc", 1)]
    [InlineData("/Vector_Stores/vs_1", "vector_stores", "vs_1", 0)]
    [InlineData("/vector_stores/vs_1/files/file-2", "vector_stores", "vs_1", 2)]
    [InlineData("/vector_stores/vs_1/file_batches/vsfb_3/files", "vector_stores", "vs_1", 3)]
    [InlineData("/fine_tuning/jobs/ftjob-9/events", "fine_tuning/jobs", "ftjob-9", 1)]
    [InlineData("/chat/completions/chatcmpl-7/messages", "chat/completions", "chatcmpl-7", 1)]
    [InlineData("/chat/completions", "chat/completions", null, 0)]
    [InlineData("/responses/input_tokens", "responses", null, 1)]
    [InlineData("/threads/runs", "threads", null, 1)]
    [InlineData("/conversations/conv_1/items/msg_2", "conversations", "conv_1", 2)]
    [InlineData("/models/ft:gpt-4o-mini:acme::abc", "models", "ft:gpt-4o-mini:acme::abc", 0)]
    [InlineData("/models", "models", null, 0)]
    [InlineData("/skills/skill-68ab12/content", "skills", "skill-68ab12", 1)]
    [InlineData("/chatkit/threads/cthr_1/items", "chatkit/threads", "cthr_1", 1)]
    public void APath_NamesItsTopLevelObject(string remainder, string family, string? id, int depth)
    {
        var route = ObjectRoute.Parse(remainder);
        Assert.Equal(family, route.Family?.Collection);
        Assert.Equal(id, route.ObjectId);
        Assert.Equal(depth, route.Depth);
    }

    [Theory]
    [InlineData("/models/gpt-4o-mini")]
    [InlineData("/embeddings")]
    [InlineData("/filesystem/x")]
    [InlineData("/realtime/client_secrets")]
    public void APathOfNoObjectFamily_NamesNone(string remainder) => Assert.Null(ObjectRoute.Parse(remainder).Family);

    /// <summary>Property: any id of any family, under any sub-path, is read back as that family's top-level object.</summary>
    [Fact]
    public void AnyIdUnderAnyFamily_IsReadBackAsItsTopLevelObject()
    {
        var families = new List<ObjectFamily>();
        foreach (var family in ObjectFamily.All)
        {
            families.Add(family);
        }

        var segment = Gen.String[Gen.Char['a', 'z'], 1, 10];
        Gen.Select(Gen.OneOfConst([.. families]), Gen.String[Gen.Char.AlphaNumeric, 1, 24], segment.Array[0, 4]).Sample((family, tail, rest) =>
        {
            var id = family.Prefix + tail;
            var route = ObjectRoute.Parse("/" + family.Collection + "/" + id + string.Concat(rest.Select(r => "/" + r)));
            return route.Family == family && route.ObjectId == id && route.Depth == rest.Length;
        });
    }

    [Fact]
    public void ACreateInAFamilyWithoutAKnownPrefix_RecordsItsId_ButOnlyThere()
    {
        var skills = ObjectRoute.Parse("/skills").Family!;
        var created = System.Text.Json.JsonDocument.Parse("""{"id":"68ab12cd","object":"skill","name":"x"}""").RootElement;
        Assert.Equal("68ab12cd", Assert.Single(CreatedObjects.Read(created, "key", DateTimeOffset.UnixEpoch, skills)).ObjectId);
        // Anywhere else an id without a known prefix is not taken for an object.
        Assert.Empty(CreatedObjects.Read(created, "key", DateTimeOffset.UnixEpoch, ObjectRoute.Parse("/files").Family));
        Assert.Empty(CreatedObjects.Read(created, "key", DateTimeOffset.UnixEpoch));
    }

    [Fact]
    public void TheBody_NamesEveryIdTheApiPutsInIt()
    {
        var json = """
            {"model":"gpt-4o-mini","previous_response_id":"resp_1","conversation":{"id":"conv_2"},
             "input":[{"role":"user","content":[{"type":"input_file","file_id":"file-3"},{"type":"input_text","text":"file-NOTANID resp_nope"}]}],
             "tools":[{"type":"file_search","vector_store_ids":["vs_4","vs_5"]},{"type":"code_interpreter","container":"cntr_6"}],
             "training_file":"file-7","validation_file":"file-8","assistant_id":"asst_9","thread_id":"thread_10",
             "some_future_id":"batch_11","metadata":{"note":"file-12"},"tool_call_id":"call_13","id":"resp_14"}
            """;
        var found = ObjectReferences.Find(Encoding.UTF8.GetBytes(json));
        Assert.Equal(
            ["resp_1", "conv_2", "file-3", "vs_4", "vs_5", "cntr_6", "file-7", "file-8", "asst_9", "thread_10", "batch_11"],
            found.Select(f => f.Id));
        Assert.Equal("conversation", found[1].Field);
        Assert.Equal("vector_store_ids", found[3].Field);
    }

    [Fact]
    public void AConversationById_AndABodyNamingNothing_AndNotJson()
    {
        Assert.Equal(["conv_1"], ObjectReferences.Find("""{"conversation":"conv_1"}"""u8.ToArray()).Select(f => f.Id));
        Assert.Empty(ObjectReferences.Find("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"my file-abc and resp_x"}]}"""u8.ToArray()));
        Assert.Empty(ObjectReferences.Find("not json file_id\""u8.ToArray()));
    }

    /// <summary>
    /// Property: an id placed at any depth under a property named <c>*_id</c> (or in an array under <c>*_ids</c>) is
    /// found, and the same value under a free-text property is not.
    /// </summary>
    [Fact]
    public void AnIdAtAnyDepthUnderAnIdProperty_IsFound_AndUnderTextIsNot()
    {
        var ids = Gen.Select(Gen.OneOfConst("file-", "vs_", "resp_", "batch_", "conv_"), Gen.String[Gen.Char.AlphaNumeric, 1, 12], (p, s) => p + s);
        Gen.Select(ids, Gen.Int[0, 6], Gen.Bool, Gen.OneOfConst("x_id", "input_file_id", "file_ids", "content", "text")).Sample((id, depth, inArray, name) =>
        {
            var value = name.EndsWith("_ids", StringComparison.Ordinal) || inArray ? JsonSerializer.Serialize(new[] { id }) : JsonSerializer.Serialize(id);
            var json = $"{{\"{name}\":{value}}}";
            for (var i = 0; i < depth; i++)
            {
                json = $"{{\"model\":\"m\",\"nested\":[{json}]}}";
            }

            var found = ObjectReferences.Find(Encoding.UTF8.GetBytes(json)).Select(f => f.Id).ToList();
            var named = name is "x_id" or "input_file_id" or "file_ids";
            return named ? found.SequenceEqual([id]) : found.Count == 0;
        });
    }
}

using System.Net;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

/// <summary>
/// The fake upstream driven directly over HTTP: every stored-object family keeps real objects with OpenAI's ids,
/// shapes, 404s and cursor pagination, so the relay's per-key isolation can be tested against it.
/// </summary>
public sealed class FakeStoredObjectsTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;
    private FakeStoredApi _api = null!;

    public static TheoryData<string> FamilyNames => [.. FakeStoredFamily.All.Keys];

    public static TheoryData<string, int> ListableFamiliesAndCounts
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (var family in FakeStoredFamily.All.Values.Where(f => f.Listable))
            {
                foreach (var count in (int[])[0, 1, 7, 23])
                {
                    data.Add(family.Name, count);
                }
            }

            return data;
        }
    }

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { StreamEventInterval = TimeSpan.Zero }).DefaultTimeout();
        _api = new FakeStoredApi(_fake);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _fake.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(FamilyNames))]
    public async Task Family_CreateGetListDelete_ThenNotFound(string name)
    {
        var family = FakeStoredFamily.All[name];
        var collection = await family.Collection(_api);
        var created = await family.Create(_api, collection);
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith(family.IdPrefix, id, StringComparison.Ordinal);
        Assert.True(id.Length > family.IdPrefix.Length + 8, id);
        Assert.Equal(family.ObjectType, created.GetProperty(family.ObjectField).GetString());
        if (family.CreatedField is { } createdField)
        {
            Assert.Equal(JsonValueKind.Number, created.GetProperty(createdField).ValueKind);
        }

        var read = await _api.GetAsync($"{collection}/{id}");
        Assert.Equal(id, read.GetProperty("id").GetString());
        Assert.Equal(family.ObjectType, read.GetProperty(family.ObjectField).GetString());

        if (family.Listable)
        {
            Assert.Contains(id, Ids(await _api.GetAsync(collection)));
        }

        if (family.DeletedObject is null)
        {
            await AssertNotFoundAsync($"{collection}/{family.IdPrefix}missing0000", family.IdPrefix + "missing0000");
            return;
        }

        var deleted = await _api.DeleteAsync($"{collection}/{id}");
        Assert.Equal(family.DeletedObject, deleted.GetProperty("object").GetString());
        if (deleted.TryGetProperty("deleted", out var flag))
        {
            Assert.True(flag.GetBoolean());
            Assert.Equal(id, deleted.GetProperty(family.DeletedIdField).GetString());
        }

        await AssertNotFoundAsync($"{collection}/{id}", id);
        var again = await _api.DeleteAsync($"{collection}/{id}", HttpStatusCode.NotFound);
        Assert.Contains(id, again.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        if (family.Listable)
        {
            Assert.DoesNotContain(id, Ids(await _api.GetAsync(collection)));
        }
    }

    [Theory]
    [MemberData(nameof(ListableFamiliesAndCounts))]
    public async Task List_Paginates_WithExactHasMoreAndNoGapsOrDuplicates(string name, int count)
    {
        var family = FakeStoredFamily.All[name];
        var collection = await family.Collection(_api);
        var created = new List<string>();
        for (var i = 0; i < count; i++)
        {
            created.Add((await family.Create(_api, collection)).GetProperty("id").GetString()!);
        }

        // Many objects share a created_at second: the creation sequence still orders them exactly.
        var newestFirst = Enumerable.Reverse(created).ToList();
        Assert.Equal(newestFirst, await WalkAsync(collection, "desc", limit: 5));
        Assert.Equal(created, await WalkAsync(collection, "asc", limit: 5));
        Assert.Equal(family.AscendingByDefault ? created : newestFirst, await WalkAsync(collection, null, limit: 100));

        var first = await _api.GetAsync($"{collection}?order=desc&limit=5");
        Assert.Equal("list", first.GetProperty("object").GetString());
        if (count == 0)
        {
            Assert.Equal(JsonValueKind.Null, first.GetProperty("first_id").ValueKind);
            Assert.Equal(JsonValueKind.Null, first.GetProperty("last_id").ValueKind);
            Assert.False(first.GetProperty("has_more").GetBoolean());
            return;
        }

        Assert.Equal(newestFirst[0], first.GetProperty("first_id").GetString());
        Assert.Equal(newestFirst[Math.Min(count, 5) - 1], first.GetProperty("last_id").GetString());

        // `before` walks back towards the start of the list: the page just before the oldest object.
        var oldest = newestFirst[^1];
        var before = Ids(await _api.GetAsync($"{collection}?order=desc&limit=5&before={oldest}"));
        Assert.Equal(newestFirst.SkipLast(1).TakeLast(5), before);
    }

    [Fact]
    public async Task Files_ListFiltersByPurpose_AndReturnsAllByDefault()
    {
        for (var i = 0; i < 25; i++)
        {
            await _api.PostMultipartAsync("files", ("purpose", i % 5 == 0 ? "batch" : "assistants"), ("file", $"f{i}.jsonl", i + 1));
        }

        Assert.Equal(25, Ids(await _api.GetAsync("files")).Count);
        Assert.Equal(5, Ids(await _api.GetAsync("files?purpose=batch")).Count);
        var page = await _api.GetAsync("files?purpose=assistants&limit=3");
        Assert.Equal(3, Ids(page).Count);
        Assert.True(page.GetProperty("has_more").GetBoolean());
        Assert.Equal(25, _fake.UploadedFiles.Count);
    }

    [Fact]
    public async Task Uploads_PartsComplete_IntoAStoredFile_AndCancelEndsThem()
    {
        var upload = await _api.PostJsonAsync("uploads", """{"filename":"big.jsonl","purpose":"batch","bytes":30,"mime_type":"text/jsonl"}""");
        var id = upload.GetProperty("id").GetString()!;
        Assert.StartsWith("upload_", id, StringComparison.Ordinal);
        Assert.Equal("upload", ObjectOf(upload));
        Assert.Equal("pending", upload.GetProperty("status").GetString());

        var part1 = await _api.PostMultipartAsync($"uploads/{id}/parts", ("data", "blob", 10));
        var part2 = await _api.PostMultipartAsync($"uploads/{id}/parts", ("data", "blob", 20));
        Assert.Equal("upload.part", ObjectOf(part1));
        Assert.Equal(id, part1.GetProperty("upload_id").GetString());
        var partIds = $"\"{part1.GetProperty("id").GetString()}\",\"{part2.GetProperty("id").GetString()}\"";

        await _api.PostJsonAsync($"uploads/{id}/complete", $$"""{"part_ids":["{{part1.GetProperty("id").GetString()}}"]}""", HttpStatusCode.BadRequest);
        var completed = await _api.PostJsonAsync($"uploads/{id}/complete", $$"""{"part_ids":[{{partIds}}]}""");
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        var fileId = completed.GetProperty("file").GetProperty("id").GetString()!;
        var file = await _api.GetAsync($"files/{fileId}");
        Assert.Equal(30, file.GetProperty("bytes").GetInt32());
        Assert.Equal("big.jsonl", file.GetProperty("filename").GetString());
        Assert.Equal(30, (await _api.GetBytesAsync($"files/{fileId}/content")).Body.Length);
        await _api.PostJsonAsync($"uploads/{id}/complete", $$"""{"part_ids":[{{partIds}}]}""", HttpStatusCode.BadRequest);

        var other = await _api.CreateIdAsync("uploads", """{"filename":"x","purpose":"batch","bytes":1,"mime_type":"text/plain"}""");
        Assert.Equal("cancelled", (await _api.PostJsonAsync($"uploads/{other}/cancel", "")).GetProperty("status").GetString());
        await _api.PostJsonAsync("uploads/upload_missing/cancel", "", HttpStatusCode.NotFound);
        await _api.PostJsonAsync("uploads", """{"filename":"x"}""", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Batches_NameARealOutputFile_AndCancelAnswersTheBatch()
    {
        var batch = await _api.PostJsonAsync("batches", """{"input_file_id":"file-in","endpoint":"/v1/embeddings","completion_window":"24h"}""");
        var id = batch.GetProperty("id").GetString()!;
        Assert.Equal("/v1/embeddings", batch.GetProperty("endpoint").GetString());
        Assert.Equal(160, batch.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        var output = await _api.GetAsync($"files/{batch.GetProperty("output_file_id").GetString()}");
        Assert.Equal("batch_output", output.GetProperty("purpose").GetString());
        var content = await _api.GetBytesAsync($"files/{output.GetProperty("id").GetString()}/content");
        Assert.Equal(output.GetProperty("bytes").GetInt64(), content.Body.Length);
        Assert.Equal(id, (await _api.PostJsonAsync($"batches/{id}/cancel", "")).GetProperty("id").GetString());
        await _api.PostJsonAsync("batches/batch_missing/cancel", "", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task VectorStores_FileBatchesAndSearch_KeepTheirFiles()
    {
        var store = await _api.PostJsonAsync("vector_stores", """{"name":"kb","file_ids":["file-a"],"metadata":{"team":"x"}}""");
        var id = store.GetProperty("id").GetString()!;
        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("total").GetInt32());
        Assert.Equal("kb2", (await _api.PostJsonAsync($"vector_stores/{id}", """{"name":"kb2"}""")).GetProperty("name").GetString());

        var batch = await _api.PostJsonAsync($"vector_stores/{id}/file_batches", """{"file_ids":["file-b","file-c"]}""");
        var batchId = batch.GetProperty("id").GetString()!;
        Assert.StartsWith("vsfb_", batchId, StringComparison.Ordinal);
        Assert.Equal("vector_store.files_batch", ObjectOf(batch));
        Assert.Equal(2, batch.GetProperty("file_counts").GetProperty("total").GetInt32());
        Assert.Equal(batchId, (await _api.GetAsync($"vector_stores/{id}/file_batches/{batchId}")).GetProperty("id").GetString());
        Assert.Equal(["file-c", "file-b"], Ids(await _api.GetAsync($"vector_stores/{id}/file_batches/{batchId}/files")));
        Assert.Equal(["file-c", "file-b", "file-a"], Ids(await _api.GetAsync($"vector_stores/{id}/files")));
        Assert.Equal("cancelled", (await _api.PostJsonAsync($"vector_stores/{id}/file_batches/{batchId}/cancel", "")).GetProperty("status").GetString());

        var results = await _api.PostJsonAsync($"vector_stores/{id}/search", """{"query":"refund policy","max_num_results":2}""");
        Assert.Equal("vector_store.search_results.page", ObjectOf(results));
        Assert.Equal("refund policy", results.GetProperty("search_query")[0].GetString());
        Assert.Equal(2, results.GetProperty("data").GetArrayLength());

        await _api.GetAsync("vector_stores/vs_missing/files", HttpStatusCode.NotFound);
        await _api.PostJsonAsync("vector_stores/vs_missing/search", """{"query":"q"}""", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Conversations_KeepItems_AndDeletingAnItemAnswersTheConversation()
    {
        var conversation = await _api.PostJsonAsync("conversations", """{"items":[{"type":"message","role":"user","content":"hello"},{"type":"message","role":"assistant","content":"hi"}],"metadata":{"a":"1"}}""");
        var id = conversation.GetProperty("id").GetString()!;
        Assert.Equal("2", (await _api.PostJsonAsync($"conversations/{id}", """{"metadata":{"a":"2"}}""")).GetProperty("metadata").GetProperty("a").GetString());

        var items = await _api.GetAsync($"conversations/{id}/items?order=asc");
        Assert.Equal(2, items.GetProperty("data").GetArrayLength());
        var first = items.GetProperty("data")[0];
        Assert.Equal("input_text", first.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("output_text", items.GetProperty("data")[1].GetProperty("content")[0].GetProperty("type").GetString());

        var itemId = first.GetProperty("id").GetString()!;
        Assert.Equal("hello", (await _api.GetAsync($"conversations/{id}/items/{itemId}")).GetProperty("content")[0].GetProperty("text").GetString());
        var afterDelete = await _api.DeleteAsync($"conversations/{id}/items/{itemId}");
        Assert.Equal("conversation", ObjectOf(afterDelete));
        Assert.Single(Ids(await _api.GetAsync($"conversations/{id}/items")));
        var missing = await _api.GetAsync("conversations/conv_missing", HttpStatusCode.NotFound);
        Assert.Equal("Conversation with id 'conv_missing' not found.", missing.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Responses_ListTheirInputItems_NewestFirst()
    {
        var response = await _api.PostJsonAsync("responses", """{"model":"gpt-4o-mini","input":[{"role":"user","content":"one"},{"role":"assistant","content":"two"},{"role":"user","content":[{"type":"input_text","text":"three"}]}]}""");
        var id = response.GetProperty("id").GetString()!;
        var items = await _api.GetAsync($"responses/{id}/input_items");
        var texts = items.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("content")[0].GetProperty("text").GetString()).ToList();
        Assert.Equal(["three", "two", "one"], texts);
        Assert.All(Ids(items), itemId => Assert.StartsWith("msg_", itemId, StringComparison.Ordinal));
        var page = await _api.GetAsync($"responses/{id}/input_items?limit=2&order=asc");
        Assert.True(page.GetProperty("has_more").GetBoolean());
        await _api.GetAsync("responses/resp_missing/input_items", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ChatCompletions_FilterByModelAndMetadata_UpdateMetadata_AndListMessages()
    {
        var a = await _api.CreateIdAsync("chat/completions", """{"model":"gpt-4o-mini","store":true,"metadata":{"user":"alice"},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}""");
        var b = await _api.CreateIdAsync("chat/completions", """{"model":"gpt-4o","store":true,"metadata":{"user":"bob"},"messages":[{"role":"user","content":"yo"}]}""");
        await _api.PostJsonAsync("chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"not stored"}]}""");

        Assert.Equal([a, b], Ids(await _api.GetAsync("chat/completions")));
        Assert.Equal([b], Ids(await _api.GetAsync("chat/completions?model=gpt-4o")));
        Assert.Equal([a], Ids(await _api.GetAsync("chat/completions?metadata[user]=alice")));

        var updated = await _api.PostJsonAsync($"chat/completions/{b}", """{"metadata":{"user":"carol"}}""");
        Assert.Equal("carol", updated.GetProperty("metadata").GetProperty("user").GetString());
        Assert.Equal([b], Ids(await _api.GetAsync("chat/completions?metadata[user]=carol")));

        var messages = await _api.GetAsync($"chat/completions/{a}/messages");
        Assert.Equal([$"{a}-0", $"{a}-1"], Ids(messages));
        Assert.Equal("be brief", messages.GetProperty("data")[0].GetProperty("content").GetString());
        await _api.GetAsync("chat/completions/chatcmpl-missing/messages", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Threads_RunsCompleteWithAStepAndAReply()
    {
        var thread = await _api.CreateIdAsync("threads", """{"messages":[{"role":"user","content":"question"}]}""");
        var assistant = await _api.CreateIdAsync("assistants", """{"model":"gpt-4o","name":"helper"}""");
        var run = await _api.PostJsonAsync($"threads/{thread}/runs", $$"""{"assistant_id":"{{assistant}}"}""");
        var runId = run.GetProperty("id").GetString()!;
        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.Equal(28, run.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var steps = await _api.GetAsync($"threads/{thread}/runs/{runId}/steps");
        var stepId = Assert.Single(Ids(steps));
        Assert.StartsWith("step_", stepId, StringComparison.Ordinal);
        Assert.Equal("thread.run.step", ObjectOf(await _api.GetAsync($"threads/{thread}/runs/{runId}/steps/{stepId}")));

        Assert.Equal(2, Ids(await _api.GetAsync($"threads/{thread}/messages")).Count);
        var reply = Assert.Single((await _api.GetAsync($"threads/{thread}/messages?run_id={runId}")).GetProperty("data").EnumerateArray());
        Assert.Equal("assistant", reply.GetProperty("role").GetString());
        Assert.Equal("cancelled", (await _api.PostJsonAsync($"threads/{thread}/runs/{runId}/cancel", "")).GetProperty("status").GetString());

        var both = await _api.PostJsonAsync("threads/runs", $$$"""{"assistant_id":"{{{assistant}}}","thread":{"messages":[{"role":"user","content":"q"}]}}""");
        Assert.Equal(2, Ids(await _api.GetAsync($"threads/{both.GetProperty("thread_id").GetString()}/messages")).Count);
        await _api.GetAsync("threads/thread_missing/runs", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task FineTuningJobs_CancelAddsAnEvent_AndCheckpointsAreAList()
    {
        var job = await _api.CreateIdAsync("fine_tuning/jobs", """{"model":"gpt-4o-mini","training_file":"file-train"}""");
        Assert.Equal("cancelled", (await _api.PostJsonAsync($"fine_tuning/jobs/{job}/cancel", "")).GetProperty("status").GetString());
        var events = await _api.GetAsync($"fine_tuning/jobs/{job}/events");
        Assert.Equal(2, events.GetProperty("data").GetArrayLength());
        Assert.Equal("fine_tuning.job.event", ObjectOf(events.GetProperty("data")[0]));
        Assert.Equal("Fine-tuning job cancelled", events.GetProperty("data")[0].GetProperty("message").GetString());
        Assert.Empty(Ids(await _api.GetAsync($"fine_tuning/jobs/{job}/checkpoints")));
        await _api.PostJsonAsync("fine_tuning/jobs", """{"model":"gpt-4o-mini"}""", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task EvalRuns_Cancel_AndFilterByStatus()
    {
        var eval = await _api.CreateIdAsync("evals", """{"name":"e"}""", HttpStatusCode.Created);
        var run = await _api.CreateIdAsync($"evals/{eval}/runs", """{"name":"r1"}""", HttpStatusCode.Created);
        await _api.CreateIdAsync($"evals/{eval}/runs", """{"name":"r2"}""", HttpStatusCode.Created);
        Assert.Equal("canceled", (await _api.PostJsonAsync($"evals/{eval}/runs/{run}", "")).GetProperty("status").GetString());
        Assert.Equal([run], Ids(await _api.GetAsync($"evals/{eval}/runs?status=canceled")));
        Assert.Empty(Ids(await _api.GetAsync($"evals/{eval}/runs/{run}/output_items")));
    }

    [Fact]
    public async Task ContainerFilesAndVideos_ServeContent()
    {
        var container = await _api.CreateIdAsync("containers", """{"name":"c","file_ids":["file-size-77"]}""");
        var uploaded = await _api.PostMultipartAsync($"containers/{container}/files", ("file", "data.csv", 300));
        var content = await _api.GetBytesAsync($"containers/{container}/files/{uploaded.GetProperty("id").GetString()}/content");
        Assert.Equal(300, content.Body.Length);
        Assert.Equal("/mnt/data/data.csv", uploaded.GetProperty("path").GetString());
        var files = await _api.GetAsync($"containers/{container}/files?order=asc");
        Assert.Equal(77, files.GetProperty("data")[0].GetProperty("bytes").GetInt32());

        var video = await _api.CreateIdAsync("videos", """{"prompt":"a cat"}""");
        var mp4 = await _api.GetBytesAsync($"videos/{video}/content");
        Assert.Equal(HttpStatusCode.OK, mp4.Status);
        Assert.Equal("video/mp4", mp4.ContentType);
        Assert.NotEmpty(mp4.Body);
        Assert.Equal("image/webp", (await _api.GetBytesAsync($"videos/{video}/content?variant=thumbnail")).ContentType);
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetBytesAsync("videos/video_missing/content")).Status);
    }

    [Fact]
    public async Task StoredObjectRequests_AreRecorded()
    {
        var id = await _api.CreateIdAsync("vector_stores", "{}");
        await _api.DeleteAsync($"vector_stores/{id}");
        var seen = await _fake.WaitForEndAsync(r => r.Method == "DELETE" && r.Path == $"/v1/vector_stores/{id}", TaskTimeouts.Default);
        Assert.Equal(200, seen.StatusCode);
        Assert.Contains(_fake.Requests, r => r.Method == "POST" && r.Path == "/v1/vector_stores");
    }

    private static string? ObjectOf(JsonElement element) => element.GetProperty("object").GetString();

    private static List<string> Ids(JsonElement list) => [.. list.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)];

    private async Task AssertNotFoundAsync(string path, string id)
    {
        var error = (await _api.GetAsync(path, HttpStatusCode.NotFound)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(id, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, error.GetProperty("code").ValueKind);
    }

    /// <summary>Follows <c>after</c> cursors to the end, checking each page's size, ids and <c>has_more</c>.</summary>
    private async Task<List<string>> WalkAsync(string collection, string? order, int limit)
    {
        var all = new List<string>();
        string? after = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var query = $"{collection}?limit={limit}" + (order is null ? string.Empty : $"&order={order}") + (after is null ? string.Empty : $"&after={after}");
            var page = await _api.GetAsync(query);
            var ids = Ids(page);
            var hasMore = page.GetProperty("has_more").GetBoolean();
            Assert.True(ids.Count <= limit);
            Assert.True(!hasMore || ids.Count == limit, "a short page must be the last");
            if (ids.Count > 0)
            {
                Assert.Equal(ids[0], page.GetProperty("first_id").GetString());
                Assert.Equal(ids[^1], page.GetProperty("last_id").GetString());
            }

            all.AddRange(ids);
            if (!hasMore)
            {
                Assert.Equal(all.Count, all.Distinct().Count());
                return all;
            }

            after = ids[^1];
        }

        throw new InvalidOperationException("the walk did not end");
    }
}

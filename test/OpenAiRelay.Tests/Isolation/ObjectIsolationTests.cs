using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>
/// Two client keys through one relay with <c>Relay:Isolation:Mode=per-key</c>, against the fake upstream: what A
/// creates, B can neither reach by id nor name in a body, and the upstream never sees B try; A and the shared
/// <c>RELAY_TOKEN</c> still can.
/// </summary>
public sealed class ObjectIsolationTests : IAsyncLifetime
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "openai-relay-test-" + Guid.NewGuid().ToString("N"));
    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;
    private string _a = null!;
    private string _b = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _relay = await StartRelayAsync();
        (_a, _) = await CreateKeyAsync(_relay, new { name = "alice" });
        (_b, _) = await CreateKeyAsync(_relay, new { name = "bob" });
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task AFileOfA_IsNotFoundForB_ByIdContentOrDelete_AndTheUpstreamSeesNoneOfIt()
    {
        var file = await UploadAsync(_a);
        var test = Guid.NewGuid().ToString("N");
        foreach (var (method, path) in new[] { ("GET", $"v1/files/{file}"), ("GET", $"v1/files/{file}/content"), ("DELETE", $"v1/files/{file}"), ("GET", $"v1/FILES/{file}/content") })
        {
            using var response = await SendAsync(_b, method, path, test);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var error = await ErrorAsync(response);
            Assert.Equal($"No such File object: {file}", error.GetProperty("message").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));

        // A, and the operator's shared token, still reach it.
        using (var own = await SendAsync(_a, "GET", $"v1/files/{file}", test))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var shared = await SendAsync(RelayServer.ClientToken, "GET", $"v1/files/{file}/content", test))
        {
            Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        }
    }

    [Fact]
    public async Task AResponseOfA_CannotBeContinuedReadOrDeletedByB()
    {
        var response = await CreateResponseAsync(_a, previous: null);
        var test = Guid.NewGuid().ToString("N");
        using (var chained = await PostAsync(_b, "v1/responses", $$"""{"model":"gpt-4o-mini","input":"go on","previous_response_id":"{{response}}"}""", test))
        {
            Assert.Equal(HttpStatusCode.NotFound, chained.StatusCode);
            Assert.Contains(response, (await ErrorAsync(chained)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var conversation = await PostAsync(_b, "v1/responses", """{"model":"gpt-4o-mini","input":"go on","conversation":{"id":"conv_notyours123"}}""", test))
        {
            Assert.Equal(HttpStatusCode.NotFound, conversation.StatusCode);
        }

        foreach (var (method, path) in new[] { ("GET", $"v1/responses/{response}"), ("DELETE", $"v1/responses/{response}"), ("GET", $"v1/responses/{response}/input_items") })
        {
            using var refused = await SendAsync(_b, method, path, test);
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        // A continues its own conversation.
        Assert.StartsWith("resp_", await CreateResponseAsync(_a, previous: response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABatchOfB_CannotNameAFileOfA()
    {
        var file = await UploadAsync(_a);
        var test = Guid.NewGuid().ToString("N");
        var body = $$"""{"input_file_id":"{{file}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""";
        using (var refused = await PostAsync(_b, "v1/batches", body, test))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Equal($"No such File object: {file}", (await ErrorAsync(refused)).GetProperty("message").GetString());
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        using var own = await PostAsync(_a, "v1/batches", body, test);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var batch = JsonDocument.Parse(await own.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        // The batch is A's now: B cannot read or cancel it.
        using var read = await SendAsync(_b, "GET", $"v1/batches/{batch}", test);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        using var cancel = await SendAsync(_b, "POST", $"v1/batches/{batch}/cancel", test);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
    }

    [Fact]
    public async Task AStreamedResponse_IsOwnedBeforeItsFirstEventReachesTheClient()
    {
        using var client = _relay.CreateClient(_a);
        using var request = Post("v1/responses", """{"model":"gpt-4o-mini","input":"hi","stream":true}""", Guid.NewGuid().ToString("N"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? data = null;
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data = line[5..].Trim();
                break;
            }
        }

        var id = JsonDocument.Parse(data!).RootElement.GetProperty("response").GetProperty("id").GetString()!;
        // At the moment the client read the id, the row was there.
        var owned = await _relay.Services.GetRequiredService<ObjectOwnershipStore>().GetAsync(id, CancellationToken.None);
        Assert.NotNull(owned);
        Assert.Equal(KeyId(_a), owned!.OwnerKeyId);
        Assert.Equal("response", owned.Kind);
        using var foreign = await SendAsync(_b, "GET", $"v1/responses/{id}", "t");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
    }

    [Fact]
    public async Task AnIdTheRelayNeverSawCreated_IsNotFoundForEveryKey_ButReachesTheUpstreamForTheSharedToken()
    {
        var test = Guid.NewGuid().ToString("N");
        using (var key = await SendAsync(_a, "GET", "v1/files/file-size-1000/content", test))
        {
            Assert.Equal(HttpStatusCode.NotFound, key.StatusCode);
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        using (var shared = await SendAsync(RelayServer.ClientToken, "GET", "v1/files/file-size-1000/content", test))
        {
            Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        }

        // Lists, generations without references, and everything not an object pass as before.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_relay, _a, Chat(test)));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_relay, _b, Get("v1/models", test)));
    }

    [Fact]
    public async Task ADeletedFile_IsForgotten_AndOwnershipSurvivesARestart()
    {
        var kept = await UploadAsync(_a);
        var deleted = await UploadAsync(_a);
        using (var delete = await SendAsync(_a, "DELETE", $"v1/files/{deleted}", "t"))
        {
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        }

        var store = _relay.Services.GetRequiredService<ObjectOwnershipStore>();
        // Forgotten once the upstream said it was deleted (just after the answer left).
        await WaitUntilAsync(() => store.GetAsync(deleted, CancellationToken.None).Result is null);

        await _relay.StopAsync();
        await using var restarted = await StartRelayAsync();
        using var client = restarted.CreateClient(_a);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"v1/files/{kept}").DefaultTimeout()).StatusCode);
        using var other = restarted.CreateClient(_b);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/files/{kept}").DefaultTimeout()).StatusCode);
    }

    [Fact]
    public async Task Lists_HoldOnlyTheKeysOwnObjects_WithExactPagination_AndNeverAskTheUpstream()
    {
        // Many of B's among a few of A's, interleaved; C has none.
        var mine = new List<string>();
        var theirs = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            theirs.Add(await UploadAsync(_b));
            if (i % 10 == 0)
            {
                mine.Add(await UploadAsync(_a));
            }
        }

        var (c, _) = await CreateKeyAsync(_relay, new { name = "carol" });
        var test = Guid.NewGuid().ToString("N");

        Assert.Equal(Enumerable.Reverse(mine), await WalkAsync(_a, "v1/files?limit=2", 2, test, out var aPages));
        Assert.Equal([true, false], aPages.Select(p => p.HasMore));
        Assert.Equal(Enumerable.Reverse(theirs), await WalkAsync(_b, "v1/files?limit=10", 10, test, out var bPages));
        Assert.Equal([10, 10, 5], bPages.Select(p => p.Count));
        Assert.Equal([true, true, false], bPages.Select(p => p.HasMore));
        Assert.Equal(theirs, await WalkAsync(_b, "v1/files?order=asc&limit=7", 7, test, out _));
        Assert.Empty(await WalkAsync(c, "v1/files", 10_000, test, out var cPages));
        Assert.False(Assert.Single(cPages).HasMore);
        // One of its own, alone: a single full page.
        var only = await UploadAsync(c);
        Assert.Equal([only], await WalkAsync(c, "v1/files", 10_000, test, out _));

        // "before" walks back from a cursor; a cursor of another key's object gives nothing of theirs.
        var page = await ListAsync(_b, $"v1/files?limit=3&before={theirs[10]}", test);
        Assert.Equal(theirs[11..14].AsEnumerable().Reverse(), page.Ids);
        Assert.Empty((await ListAsync(_a, $"v1/files?after={theirs[3]}", test)).Ids);

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        // The shared token lists the upstream's, everyone's.
        var all = await ListAsync(RelayServer.ClientToken, "v1/files?limit=100", test);
        Assert.Superset(mine.Concat(theirs).Append(only).ToHashSet(), all.Ids.ToHashSet());
    }

    [Fact]
    public async Task AListFilters_AndShowsWhatItsOwnerLastSaw()
    {
        var batch = await UploadAsync(_a);
        using var form = Upload("assistants");
        using var client = _relay.CreateClient(_a);
        using var created = await client.PostAsync("v1/files", form).DefaultTimeout();
        var assistants = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        Assert.Equal([assistants], (await ListAsync(_a, "v1/files?purpose=assistants", "t")).Ids);
        Assert.Equal([batch], (await ListAsync(_a, "v1/files?purpose=batch", "t")).Ids);

        using var store = await PostAsync(_a, "v1/vector_stores", """{"name":"before"}""", "t");
        var id = JsonDocument.Parse(await store.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var renamed = await PostAsync(_a, $"v1/vector_stores/{id}", """{"name":"after"}""", "t");
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        var listed = await ListAsync(_a, "v1/vector_stores", "t");
        Assert.Equal([id], listed.Ids);
        Assert.Equal("after", listed.Items[0].GetProperty("name").GetString());
        Assert.Empty((await ListAsync(_b, "v1/vector_stores", "t")).Ids);
    }

    [Fact]
    public async Task AFineTunedModelOfA_CannotBeUsedOrReadByB()
    {
        var training = await UploadAsync(_a);
        using var client = _relay.CreateClient(_a);
        using var create = Post("v1/fine_tuning/jobs", $$"""{"model":"gpt-4o-mini","training_file":"{{training}}","suffix":"alice"}""", "t");
        create.Headers.Add("x-fake-job-status", "succeeded");
        using var created = await client.SendAsync(create).DefaultTimeout();
        var text = await created.Content.ReadAsStringAsync();
        var model = JsonDocument.Parse(text).RootElement.GetProperty("fine_tuned_model").GetString() ?? text;
        Assert.True(model.StartsWith("ft:gpt-4o-mini", StringComparison.Ordinal), text);

        var test = Guid.NewGuid().ToString("N");
        var chat = $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""";
        using (var refused = await PostAsync(_b, "v1/chat/completions", chat, test))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            var error = await ErrorAsync(refused);
            Assert.Equal("model_not_found", error.GetProperty("code").GetString());
            Assert.Equal($"The model '{model}' does not exist or you do not have access to it.", error.GetProperty("message").GetString());
        }

        using (var read = await SendAsync(_b, "GET", $"v1/models/{model}", test))
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        // The model the job made is A's (recorded as the create answer passed), and the base models are everyone's.
        using (var own = await PostAsync(_a, "v1/chat/completions", chat, test))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var shared = await SendAsync(_b, "GET", "v1/models/gpt-4o-mini", test))
        {
            Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        }

        // The list of models shows a fine-tuned model to its trainer only; the base models to everyone.
        async Task<List<string>> ModelsAsync(string key)
        {
            using var list = await SendAsync(key, "GET", "v1/models", test);
            var text = await list.Content.ReadAsStringAsync();
            Assert.True(list.StatusCode == HttpStatusCode.OK, text);
            return JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList();
        }

        Assert.Contains(model, await ModelsAsync(_a));
        var theirs = await ModelsAsync(_b);
        Assert.DoesNotContain(model, theirs);
        Assert.Contains("gpt-4o-mini", theirs);
        Assert.Contains(model, await ModelsAsync(RelayServer.ClientToken));
    }

    [Fact]
    public async Task OnlyWhatTheUpstreamKeeps_IsRecorded_AStoredChatCompletionOrAResponseNotStoreFalse()
    {
        var store = _relay.Services.GetRequiredService<ObjectOwnershipStore>();
        async Task<OwnedObject?> CreatedAsync(string path, string json)
        {
            using var response = await PostAsync(_a, path, json, "t");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            return await store.GetAsync(id, CancellationToken.None);
        }

        const string chat = "\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        Assert.Null(await CreatedAsync("v1/chat/completions", "{" + chat + "}"));
        Assert.Null(await CreatedAsync("v1/chat/completions", "{" + chat + ",\"store\":false}"));
        Assert.Equal(KeyId(_a), (await CreatedAsync("v1/chat/completions", "{" + chat + ",\"metadata\":{\"store\":\"x\"},\"store\":true}"))?.OwnerKeyId);
        var response = await CreatedAsync("v1/responses", """{"model":"gpt-4o-mini","input":"hi"}""");
        Assert.NotNull(response);
        // Owned, but its content is not copied into the relay's database: no list shows responses.
        Assert.Null(response.Snapshot);
        Assert.Null(await CreatedAsync("v1/responses", """{"model":"gpt-4o-mini","input":"hi","store":false}"""));
    }

    [Fact]
    public async Task OverAWebSocket_AResponseIsItsCreatorsBeforeItsIdArrives_AndAnotherKeyNamingItEndsItsSessionUnsent()
    {
        using var a = await ResponsesSocketAsync(_a);
        await SendAsync(a, """{"type":"response.create","model":"gpt-4o-mini","input":"hi"}""");
        var created = await a.ReceiveJsonAsync();
        Assert.Equal("response.created", created.GetProperty("type").GetString());
        var id = created.GetProperty("response").GetProperty("id").GetString()!;
        // At the moment A read the id, the row was there.
        Assert.Equal(KeyId(_a), (await _relay.Services.GetRequiredService<ObjectOwnershipStore>().GetAsync(id, CancellationToken.None))?.OwnerKeyId);
        while ((await a.ReceiveJsonAsync()).GetProperty("type").GetString() != "response.completed")
        {
        }

        // A chains its own response in the same session.
        await SendAsync(a, $$"""{"type":"response.create","model":"gpt-4o-mini","input":"more","previous_response_id":"{{id}}"}""");
        Assert.Equal("response.created", (await a.ReceiveJsonAsync()).GetProperty("type").GetString());

        // B names it: the session ends, and the upstream never gets B's event.
        using var b = await ResponsesSocketAsync(_b);
        var marker = "marker-" + Guid.NewGuid().ToString("N");
        await SendAsync(b, $$"""{"type":"response.create","model":"gpt-4o-mini","input":"{{marker}}","previous_response_id":"{{id}}"}""");
        var ended = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            while (true)
            {
                await b.ReceiveJsonAsync();
            }
        });
        Assert.True(ended is WebSocketException or System.Text.Json.JsonException or IOException, ended.ToString());
        Assert.DoesNotContain(_fake.Requests, r => r.WebSocketMessages.Any(m => m.Contains(marker, StringComparison.Ordinal)));
    }

    private async Task<ClientWebSocket> ResponsesSocketAsync(string key)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + key);
        await socket.ConnectAsync(new Uri(_relay.BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/responses"), CancellationToken.None).DefaultTimeout();
        return socket;
    }

    private static Task SendAsync(ClientWebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).DefaultTimeout();

    [Theory]
    [InlineData(null, HttpStatusCode.NotFound)]
    [InlineData("per-key", HttpStatusCode.NotFound)]
    [InlineData("shared", HttpStatusCode.OK)]
    public async Task KeysAreKeptApartByDefault_AndSharedModeKeepsTheOldBehaviour(string? mode, HttpStatusCode bReadsAsFile)
    {
        var settings = new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken };
        if (mode is not null)
        {
            settings["Relay:Isolation:Mode"] = mode;
        }

        await using var relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), settings);
        var (a, _) = await CreateKeyAsync(relay, new { name = "a" });
        var (b, _) = await CreateKeyAsync(relay, new { name = "b" });
        using var upload = Upload();
        using var client = relay.CreateClient(a);
        using var created = await client.PostAsync("v1/files", upload).DefaultTimeout();
        var file = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var other = relay.CreateClient(b);
        Assert.Equal(bReadsAsFile, (await other.GetAsync($"v1/files/{file}").DefaultTimeout()).StatusCode);
        // The shared RELAY_TOKEN reaches it in every mode: a relay without client keys works as it always did.
        using var shared = relay.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await shared.GetAsync($"v1/files/{file}").DefaultTimeout()).StatusCode);
    }

    [Fact]
    public async Task TheAdminApi_ListsAssignsAndReleasesObjects_AndTheChangeAppliesAtOnceOnItsInstance()
    {
        var file = await UploadAsync(_a);
        using var admin = _relay.CreateClient(AdminToken);
        var listed = JsonDocument.Parse(await admin.GetStringAsync(new Uri("admin/objects?key=alice", UriKind.Relative)).DefaultTimeout()).RootElement;
        Assert.Equal([file], listed.GetProperty("data").EnumerateArray().Select(o => o.GetProperty("id").GetString()));
        Assert.Equal(_a[..18], listed.GetProperty("data")[0].GetProperty("owner").GetString());

        // B reads it once (cached as A's), then the operator gives it to B: B reaches it at once, A no longer.
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(_b, "GET", $"v1/files/{file}", "t")).StatusCode);
        using (var assign = await admin.PostAsync(new Uri($"admin/objects/{file}/assign", UriKind.Relative), new StringContent("""{"key":"bob"}""", Encoding.UTF8, "application/json")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, assign.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(_b, "GET", $"v1/files/{file}", "t")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(_a, "GET", $"v1/files/{file}", "t")).StatusCode);
        using (var unknown = await admin.PostAsync(new Uri("admin/objects/file-neverseen/assign", UriKind.Relative), new StringContent("""{"key":"bob"}""", Encoding.UTF8, "application/json")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var release = await admin.PostAsync(new Uri($"admin/objects/{file}/release", UriKind.Relative), null).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.NoContent, release.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(_b, "GET", $"v1/files/{file}", "t")).StatusCode);
        var unowned = JsonDocument.Parse(await admin.GetStringAsync(new Uri("admin/objects?unowned=true", UriKind.Relative)).DefaultTimeout()).RootElement;
        Assert.Contains(file, unowned.GetProperty("data").EnumerateArray().Select(o => o.GetProperty("id").GetString()));
        // A client key is no admin.
        using var client = _relay.CreateClient(_a);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(new Uri("admin/objects", UriKind.Relative)).DefaultTimeout()).StatusCode);
    }

    [Fact]
    public async Task ABadMode_StopsTheRelayAtStartUp()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Isolation:Mode"] = "per-user" }));
        Assert.Contains("Relay:Isolation:Mode", error.ToString(), StringComparison.Ordinal);
    }

    private Task<RelayServer> StartRelayAsync() => RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?>
    {
        ["Relay:AdminToken"] = AdminToken,
        ["Relay:Isolation:Mode"] = "per-key",
        ["Relay:Storage:DataDirectory"] = _data,
    });

    private static string KeyId(string key) => key[8..18];

    private sealed record Page(List<string> Ids, List<JsonElement> Items, bool HasMore, string? FirstId, string? LastId)
    {
        public int Count => Ids.Count;
    }

    private async Task<Page> ListAsync(string key, string path, string test)
    {
        using var response = await SendAsync(key, "GET", path, test);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var items = root.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToList();
        var ids = items.Select(e => e.GetProperty("id").GetString()!).ToList();
        var page = new Page(ids, items, root.GetProperty("has_more").GetBoolean(), root.GetProperty("first_id").GetString(), root.GetProperty("last_id").GetString());
        Assert.Equal(ids.FirstOrDefault(), page.FirstId);
        Assert.Equal(ids.LastOrDefault(), page.LastId);
        return page;
    }

    /// <summary>Every page from the first, following <c>after=last_id</c> while <c>has_more</c>, as the SDKs do.</summary>
    private Task<List<string>> WalkAsync(string key, string path, int limit, string test, out List<Page> pages)
    {
        var walked = new List<Page>();
        pages = walked;
        return WalkAsync(key, path, limit, test, walked);
    }

    private async Task<List<string>> WalkAsync(string key, string path, int limit, string test, List<Page> pages)
    {
        var ids = new List<string>();
        var next = path;
        while (true)
        {
            var page = await ListAsync(key, next, test);
            pages.Add(page);
            Assert.InRange(page.Count, 0, limit);
            ids.AddRange(page.Ids);
            if (!page.HasMore)
            {
                Assert.Equal(ids.Count, ids.Distinct().Count());
                return ids;
            }

            Assert.Equal(limit, page.Count);
            next = path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "after=" + page.LastId;
        }
    }

    private static MultipartFormDataContent Upload(string purpose = "batch")
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"custom_id\":\"1\"}\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        form.Add(file, "file", "batch.jsonl");
        form.Add(new StringContent(purpose), "purpose");
        return form;
    }

    private async Task<string> UploadAsync(string key)
    {
        using var client = _relay.CreateClient(key);
        using var form = Upload();
        using var response = await client.PostAsync("v1/files", form).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private async Task<string> CreateResponseAsync(string key, string? previous)
    {
        var chain = previous is null ? string.Empty : $",\"previous_response_id\":\"{previous}\"";
        using var response = await PostAsync(key, "v1/responses", $$"""{"model":"gpt-4o-mini","input":"hi"{{chain}}}""", "t");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private async Task<HttpResponseMessage> PostAsync(string key, string path, string json, string test)
    {
        using var client = _relay.CreateClient(key);
        using var request = Post(path, json, test);
        var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private async Task<HttpResponseMessage> SendAsync(string key, string method, string path, string test)
    {
        using var client = _relay.CreateClient(key);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("x-test-id", test);
        var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}

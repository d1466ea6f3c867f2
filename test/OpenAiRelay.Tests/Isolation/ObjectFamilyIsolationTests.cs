using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>
/// Every family the fake upstream stores, through one relay with <c>Relay:Isolation:Mode=per-key</c> and two client
/// keys: what A creates (and what its creates make as a side effect), B can reach by no path (read, sub-resource,
/// update, cancel, delete) and name in no request body, each answered 404 in OpenAI's error shape without the upstream
/// seeing it; B's lists never show A's ids; A can still do all of it, and what A deletes leaves A's list.
/// One table (<see cref="s_families"/>) says per family what A creates and which requests reach it.
/// </summary>
public sealed partial class ObjectFamilyIsolationTests : IAsyncLifetime
{
    /// <summary>How the upstream words a missing object of each family (the fake's, OpenAI's), by id prefix.</summary>
    private static readonly (string Prefix, string Name)[] s_missing =
    [
        ("chatcmpl-", ""), ("resp_", ""), ("conv_", ""), ("file-", ""), ("ftjob-", "fine-tuning job"), ("upload_", "upload"), ("thread_", "thread"),
        ("batch_", "batch"), ("video_", "video"), ("asst_", "assistant"), ("eval_", "eval"), ("cntr_", "container"), ("vs_", "vector store"),
    ];

    private static readonly Family[] s_families =
    [
        new(
            "files",
            async (t, v) =>
            {
                v["id"] = await t.FileAsync("a");
                await t.OwnAsync(v, "file", "vs", "cntr", "thread", "eval");
            },
            [
                new("GET", "files/<id>"),
                new("GET", "files/<id>/content"),
                new("POST", "vector_stores", """{"name":"x","file_ids":["<id>"]}"""),
                new("POST", "vector_stores/<mine.vs>/files", """{"file_id":"<id>"}"""),
                new("POST", "vector_stores/<mine.vs>/file_batches", """{"file_ids":["<id>"]}"""),
                new("POST", "batches", """{"input_file_id":"<id>","endpoint":"/v1/chat/completions","completion_window":"24h"}"""),
                new("POST", "fine_tuning/jobs", """{"model":"gpt-4o-mini","training_file":"<id>"}"""),
                new("POST", "fine_tuning/jobs", """{"model":"gpt-4o-mini","training_file":"<mine.file>","validation_file":"<id>"}"""),
                new("POST", "containers", """{"name":"x","file_ids":["<id>"]}"""),
                new("POST", "containers/<mine.cntr>/files", """{"file_id":"<id>"}"""),
                new("POST", "assistants", """{"model":"gpt-4o-mini","tools":[{"type":"code_interpreter"}],"tool_resources":{"code_interpreter":{"file_ids":["<id>"]}}}"""),
                new("POST", "threads", """{"messages":[{"role":"user","content":"x","attachments":[{"file_id":"<id>","tools":[{"type":"file_search"}]}]}]}"""),
                new("POST", "threads/<mine.thread>/messages", """{"role":"user","content":"x","attachments":[{"file_id":"<id>"}]}"""),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_file","file_id":"<id>"}]}]}"""),
                new("POST", "evals/<mine.eval>/runs", """{"name":"r","data_source":{"type":"jsonl","source":{"type":"file_id","id":"<id>"}}}"""),
            ],
            new("DELETE", "files/<id>"),
            [("files", "id")]),
        new(
            "uploads",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "uploads", UploadBody)).GetProperty("id").GetString()!;
                v["part"] = (await t.SendOkAsync("a", new Op("POST", "uploads/<id>/parts", Form: "data"), v)).GetProperty("id").GetString()!;
                var completed = await t.SendOkAsync("a", new Op("POST", "uploads/<id>/complete", """{"part_ids":["<part>"]}"""), v);
                Assert.Equal("completed", completed.GetProperty("status").GetString());
                v["file"] = completed.GetProperty("file").GetProperty("id").GetString()!;
                v["pending"] = (await t.CreateAsync("a", "uploads", UploadBody)).GetProperty("id").GetString()!;
            },
            [
                new("POST", "uploads/<id>/complete", """{"part_ids":["<part>"]}""", OwnerToo: false), // completed already: 400 for A
                new("POST", "uploads/<id>/cancel", OwnerToo: false),
                new("GET", "files/<file>"),
                new("GET", "files/<file>/content"),
                new("POST", "uploads/<pending>/parts", Form: "data"),
                new("POST", "batches", """{"input_file_id":"<file>","endpoint":"/v1/chat/completions","completion_window":"24h"}"""),
                new("POST", "uploads/<pending>/cancel"),
            ],
            new("DELETE", "files/<file>"),
            [("files", "file")]),
        new(
            "batches",
            async (t, v) =>
            {
                v["input"] = await t.FileAsync("a");
                var batch = await t.CreateAsync("a", "batches", """{"input_file_id":"<input>","endpoint":"/v1/chat/completions","completion_window":"24h"}""", v);
                v["id"] = batch.GetProperty("id").GetString()!;
                v["output"] = batch.GetProperty("output_file_id").GetString()!;
            },
            [
                new("GET", "batches/<id>"),
                new("GET", "files/<output>"),
                new("GET", "files/<output>/content"),
                new("POST", "batches/<id>/cancel"),
            ],
            null, // batches are not deleted (OpenAI has no such endpoint)
            [("batches", "id"), ("files", "output")]),
        new(
            "vector_stores",
            async (t, v) =>
            {
                v["file"] = await t.FileAsync("a");
                v["more"] = await t.FileAsync("a");
                v["id"] = (await t.CreateAsync("a", "vector_stores", """{"name":"a","file_ids":["<file>"]}""", v)).GetProperty("id").GetString()!;
                v["fb"] = (await t.CreateAsync("a", "vector_stores/<id>/file_batches", """{"file_ids":["<more>"]}""", v)).GetProperty("id").GetString()!;
                await t.OwnAsync(v, "thread");
            },
            [
                new("GET", "vector_stores/<id>"),
                new("POST", "vector_stores/<id>", """{"name":"renamed"}"""),
                new("GET", "vector_stores/<id>/files"),
                new("POST", "vector_stores/<id>/files", """{"file_id":"<more>"}"""),
                new("GET", "vector_stores/<id>/files/<file>"),
                new("POST", "vector_stores/<id>/files/<file>", """{"attributes":{"k":"v"}}"""),
                new("POST", "vector_stores/<id>/file_batches", """{"file_ids":["<more>"]}"""),
                new("GET", "vector_stores/<id>/file_batches/<fb>"),
                new("GET", "vector_stores/<id>/file_batches/<fb>/files"),
                new("POST", "vector_stores/<id>/file_batches/<fb>/cancel"),
                new("POST", "vector_stores/<id>/search", """{"query":"q"}"""),
                new("POST", "assistants", """{"model":"gpt-4o-mini","tools":[{"type":"file_search"}],"tool_resources":{"file_search":{"vector_store_ids":["<id>"]}}}"""),
                new("POST", "threads", """{"tool_resources":{"file_search":{"vector_store_ids":["<id>"]}}}"""),
                new("POST", "threads/<mine.thread>", """{"tool_resources":{"file_search":{"vector_store_ids":["<id>"]}}}"""),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":"hi","tools":[{"type":"file_search","vector_store_ids":["<id>"]}]}"""),
                new("DELETE", "vector_stores/<id>/files/<file>"),
            ],
            new("DELETE", "vector_stores/<id>"),
            [("vector_stores", "id")]),
        new(
            "conversations",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "conversations", """{"items":[{"type":"message","role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;
                var added = await t.CreateAsync("a", "conversations/<id>/items", """{"items":[{"type":"message","role":"user","content":"more"}]}""", v);
                v["item"] = added.GetProperty("data")[0].GetProperty("id").GetString()!;
            },
            [
                new("GET", "conversations/<id>"),
                new("POST", "conversations/<id>", """{"metadata":{"k":"v"}}"""),
                new("GET", "conversations/<id>/items"),
                new("POST", "conversations/<id>/items", """{"items":[{"type":"message","role":"user","content":"again"}]}"""),
                new("GET", "conversations/<id>/items/<item>"),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":"go on","conversation":"<id>"}"""),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":"go on","conversation":{"id":"<id>"}}"""),
                new("DELETE", "conversations/<id>/items/<item>"),
            ],
            new("DELETE", "conversations/<id>"),
            []), // OpenAI has no list of conversations
        new(
            "responses",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "responses", """{"model":"gpt-4o-mini","input":"hi"}""")).GetProperty("id").GetString()!;
                v["bg"] = (await t.CreateAsync("a", "responses", """{"model":"gpt-4o-mini","input":"hi","background":true}""")).GetProperty("id").GetString()!;
            },
            [
                new("GET", "responses/<id>"),
                new("GET", "responses/<id>/input_items"),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":"go on","previous_response_id":"<id>"}"""),
                new("GET", "responses/<bg>"),
                new("POST", "responses/<bg>/cancel"),
            ],
            new("DELETE", "responses/<id>"),
            []), // OpenAI has no list of responses
        new(
            "chat/completions",
            async (t, v) => v["id"] = (await t.CreateAsync("a", "chat/completions", """{"model":"gpt-4o-mini","store":true,"metadata":{"team":"a"},"messages":[{"role":"user","content":"hi"}]}"""))
                .GetProperty("id").GetString()!,
            [
                new("GET", "chat/completions/<id>"),
                new("POST", "chat/completions/<id>", """{"metadata":{"k":"v"}}"""),
                new("GET", "chat/completions/<id>/messages"),
            ],
            new("DELETE", "chat/completions/<id>"),
            [("chat/completions", "id")]),
        new(
            "assistants",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "assistants", """{"model":"gpt-4o-mini","name":"a"}""")).GetProperty("id").GetString()!;
                await t.OwnAsync(v, "thread");
            },
            [
                new("GET", "assistants/<id>"),
                new("POST", "assistants/<id>", """{"name":"renamed"}"""),
                new("POST", "threads/runs", """{"assistant_id":"<id>","thread":{"messages":[{"role":"user","content":"hi"}]}}"""),
                new("POST", "threads/<mine.thread>/runs", """{"assistant_id":"<id>"}"""),
            ],
            new("DELETE", "assistants/<id>"),
            [("assistants", "id")]),
        new(
            "threads",
            async (t, v) =>
            {
                v["asst"] = (await t.CreateAsync("a", "assistants", """{"model":"gpt-4o-mini"}""")).GetProperty("id").GetString()!;
                v["id"] = (await t.CreateAsync("a", "threads", """{"messages":[{"role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;
                v["msg"] = (await t.CreateAsync("a", "threads/<id>/messages", """{"role":"user","content":"more"}""", v)).GetProperty("id").GetString()!;
                v["run"] = (await t.CreateAsync("a", "threads/<id>/runs", """{"assistant_id":"<asst>"}""", v)).GetProperty("id").GetString()!;
                v["step"] = (await t.SendOkAsync("a", new Op("GET", "threads/<id>/runs/<run>/steps"), v)).GetProperty("data")[0].GetProperty("id").GetString()!;
                // A thread made with its run (POST /v1/threads/runs) is A's too.
                var run = await t.CreateAsync("a", "threads/runs", """{"assistant_id":"<asst>","thread":{"messages":[{"role":"user","content":"hi"}]}}""", v);
                v["made"] = run.GetProperty("thread_id").GetString()!;
                v["madeRun"] = run.GetProperty("id").GetString()!;
            },
            [
                new("GET", "threads/<id>"),
                new("POST", "threads/<id>", """{"metadata":{"k":"v"}}"""),
                new("GET", "threads/<id>/messages"),
                new("POST", "threads/<id>/messages", """{"role":"user","content":"again"}"""),
                new("GET", "threads/<id>/messages/<msg>"),
                new("POST", "threads/<id>/messages/<msg>", """{"metadata":{"k":"v"}}"""),
                new("GET", "threads/<id>/runs"),
                new("POST", "threads/<id>/runs", """{"assistant_id":"<asst>"}"""),
                new("GET", "threads/<id>/runs/<run>"),
                new("POST", "threads/<id>/runs/<run>", """{"metadata":{"k":"v"}}"""),
                new("GET", "threads/<id>/runs/<run>/steps"),
                new("GET", "threads/<id>/runs/<run>/steps/<step>"),
                new("POST", "threads/<id>/runs/<run>/cancel"),
                new("GET", "threads/<made>"),
                new("GET", "threads/<made>/runs/<madeRun>"),
                new("GET", "threads/<made>/messages"),
                new("DELETE", "threads/<made>"),
                new("DELETE", "threads/<id>/messages/<msg>"),
            ],
            new("DELETE", "threads/<id>"),
            []), // OpenAI has no list of threads
        new(
            "fine_tuning/jobs",
            async (t, v) =>
            {
                v["training"] = await t.FileAsync("a");
                v["id"] = (await t.CreateAsync("a", "fine_tuning/jobs", """{"model":"gpt-4o-mini","training_file":"<training>"}""", v)).GetProperty("id").GetString()!;
            },
            [
                new("GET", "fine_tuning/jobs/<id>"),
                new("GET", "fine_tuning/jobs/<id>/events"),
                new("GET", "fine_tuning/jobs/<id>/checkpoints"),
                new("POST", "fine_tuning/jobs/<id>/pause"),
                new("POST", "fine_tuning/jobs/<id>/resume"),
                new("POST", "fine_tuning/jobs/<id>/cancel"),
            ],
            null, // fine-tuning jobs are cancelled, not deleted
            [("fine_tuning/jobs", "id")]),
        new(
            "evals",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "evals", """{"name":"e","data_source_config":{"type":"custom","item_schema":{"type":"object"}},"testing_criteria":[]}"""))
                    .GetProperty("id").GetString()!;
                v["run"] = (await t.CreateAsync("a", "evals/<id>/runs", EvalRunBody, v)).GetProperty("id").GetString()!;
            },
            [
                new("GET", "evals/<id>"),
                new("POST", "evals/<id>", """{"name":"renamed"}"""),
                new("GET", "evals/<id>/runs"),
                new("POST", "evals/<id>/runs", EvalRunBody),
                new("GET", "evals/<id>/runs/<run>"),
                new("GET", "evals/<id>/runs/<run>/output_items"),
                new("POST", "evals/<id>/runs/<run>"),
                new("DELETE", "evals/<id>/runs/<run>"),
            ],
            new("DELETE", "evals/<id>"),
            [("evals", "id")]),
        new(
            "containers",
            async (t, v) =>
            {
                v["file"] = await t.FileAsync("a");
                v["more"] = await t.FileAsync("a");
                v["id"] = (await t.CreateAsync("a", "containers", """{"name":"c","file_ids":["<file>"]}""", v)).GetProperty("id").GetString()!;
                v["cfile"] = (await t.CreateAsync("a", "containers/<id>/files", """{"file_id":"<file>"}""", v)).GetProperty("id").GetString()!;
            },
            [
                new("GET", "containers/<id>"),
                new("GET", "containers/<id>/files"),
                new("POST", "containers/<id>/files", """{"file_id":"<more>"}"""),
                new("GET", "containers/<id>/files/<cfile>"),
                new("GET", "containers/<id>/files/<cfile>/content"),
                new("POST", "responses", """{"model":"gpt-4o-mini","input":"hi","tools":[{"type":"code_interpreter","container":"<id>"}]}"""),
                new("DELETE", "containers/<id>/files/<cfile>"),
            ],
            new("DELETE", "containers/<id>"),
            [("containers", "id")]),
        new(
            "videos",
            async (t, v) =>
            {
                v["id"] = (await t.CreateAsync("a", "videos", """{"prompt":"a cat","model":"sora-2"}""")).GetProperty("id").GetString()!;
                // A remix is a new video, made by its owner's request: A's too.
                v["remix"] = (await t.CreateAsync("a", "videos/<id>/remix", """{"prompt":"a dog"}""", v)).GetProperty("id").GetString()!;
            },
            [
                new("GET", "videos/<id>"),
                new("GET", "videos/<id>/content"),
                new("GET", "videos/<id>/content?variant=thumbnail"),
                new("POST", "videos/<id>/remix", """{"prompt":"a bird"}"""),
                new("GET", "videos/<remix>"),
                new("GET", "videos/<remix>/content"),
                new("DELETE", "videos/<remix>"),
            ],
            new("DELETE", "videos/<id>"),
            [("videos", "id")]),
    ];

    private const string UploadBody = """{"filename":"u.jsonl","purpose":"batch","bytes":5,"mime_type":"application/jsonl"}""";

    private const string EvalRunBody = """{"name":"r","data_source":{"type":"jsonl","source":{"type":"file_content","content":[{"item":{"q":"1"}}]}}}""";

    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;
    private readonly Dictionary<string, string> _keys = [];

    public static TheoryData<string> FamilyNames
    {
        get
        {
            var names = new TheoryData<string>();
            foreach (var family in s_families)
            {
                names.Add(family.Name);
            }

            return names;
        }
    }

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:AdminToken"] = AdminToken,
            ["Relay:Isolation:Mode"] = "per-key",
        });
        (_keys["a"], _) = await CreateKeyAsync(_relay, new { name = "alice" });
        (_keys["b"], _) = await CreateKeyAsync(_relay, new { name = "bob" });
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(FamilyNames))]
    public async Task WhatACreates_BCannotReachOrName_NorSeeListed_AndTheUpstreamSeesNoneOfBsTries(string name)
    {
        var family = s_families.Single(f => f.Name == name);
        var v = new Dictionary<string, string>();
        await family.Setup(this, v);
        var ofA = v.Where(p => !p.Key.StartsWith("b.", StringComparison.Ordinal)).Select(p => p.Value).ToHashSet();

        var test = Guid.NewGuid().ToString("N");
        foreach (var op in family.Delete is null ? family.Ops : [.. family.Ops, family.Delete])
        {
            var (path, _) = Resolve(op, "b", v);
            var named = Refused(op, v);
            using var response = await SendAsync("b", op, v, test);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"B: {op.Method} {path}: {(int)response.StatusCode} {text}");
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
            Assert.True(error.GetProperty("message").GetString() == MissingOf(named), $"B: {op.Method} {path}: {text}");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.True(error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _), text);
        }

        foreach (var (list, _) in family.Lists)
        {
            Assert.Empty((await ListAsync("b", list, test)).Intersect(ofA));
        }

        Assert.Equal(0, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));

        // A still does all of it, and its lists show what it made.
        foreach (var op in family.Ops.Where(o => o.OwnerToo))
        {
            await SendOkAsync("a", op, v);
        }

        foreach (var (list, item) in family.Lists)
        {
            Assert.Contains(v[item], await ListAsync("a", list, "a"));
        }

        if (family.Delete is { } delete)
        {
            await SendOkAsync("a", delete, v);
            foreach (var (list, item) in family.Lists.Where(l => l.Var == Placeholders(delete.Path).First()))
            {
                Assert.DoesNotContain(v[item], await ListAsync("a", list, "a"));
            }

            using var gone = await SendAsync("a", delete with { Method = "GET" }, v, "a");
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
    }

    /// <summary>The id B's request is refused for: the object of its path, else the first of A's its body names.</summary>
    private static string Refused(Op op, Dictionary<string, string> v) =>
        v[Placeholders(op.Path).Concat(Placeholders(op.Json ?? string.Empty)).First(p => !p.StartsWith("mine.", StringComparison.Ordinal))];

    private static string MissingOf(string id) => s_missing.First(n => id.StartsWith(n.Prefix, StringComparison.Ordinal)) switch
    {
        ("file-", _) => $"No such File object: {id}",
        ("conv_", _) => $"Conversation with id '{id}' not found.",
        (_, "") => $"No object found with id '{id}'.",
        (_, var name) => $"No {name} found with id '{id}'.",
    };

    private static IEnumerable<string> Placeholders(string text) => PlaceholderPattern().Matches(text).Select(m => m.Groups[1].Value);

    /// <summary><c>&lt;name&gt;</c> is the table's value; <c>&lt;mine.name&gt;</c> the acting key's own object of that kind.</summary>
    private static (string Path, string? Json) Resolve(Op op, string actor, Dictionary<string, string> v)
    {
        string Fill(string text) => PlaceholderPattern().Replace(text, m =>
            m.Groups[1].Value is var name && name.StartsWith("mine.", StringComparison.Ordinal) ? v[actor + name[4..]] : v[name]);
        return ("v1/" + Fill(op.Path), op.Json is null ? null : Fill(op.Json));
    }

    [GeneratedRegex("<([A-Za-z.]+)>")]
    private static partial Regex PlaceholderPattern();

    /// <summary>Creates, for both keys, one object of each kind a request of the table names as the caller's own.</summary>
    private async Task OwnAsync(Dictionary<string, string> v, params string[] kinds)
    {
        foreach (var actor in new[] { "a", "b" })
        {
            foreach (var kind in kinds)
            {
                v[$"{actor}.{kind}"] = kind switch
                {
                    "file" => await FileAsync(actor),
                    "vs" => (await CreateAsync(actor, "vector_stores", """{"name":"own"}""")).GetProperty("id").GetString()!,
                    "cntr" => (await CreateAsync(actor, "containers", """{"name":"own"}""")).GetProperty("id").GetString()!,
                    "thread" => (await CreateAsync(actor, "threads", "{}")).GetProperty("id").GetString()!,
                    "eval" => (await CreateAsync(actor, "evals", """{"name":"own","data_source_config":{"type":"custom","item_schema":{"type":"object"}},"testing_criteria":[]}"""))
                        .GetProperty("id").GetString()!,
                    _ => throw new ArgumentOutOfRangeException(nameof(kinds), kind, null),
                };
            }
        }
    }

    private Task<JsonElement> CreateAsync(string actor, string path, string json, Dictionary<string, string>? v = null) =>
        SendOkAsync(actor, new Op("POST", path, json), v ?? []);

    private async Task<string> FileAsync(string actor)
    {
        using var client = _relay.CreateClient(_keys[actor]);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"custom_id\":\"1\"}\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        form.Add(file, "file", "input.jsonl");
        form.Add(new StringContent("batch"), "purpose");
        using var response = await client.PostAsync("v1/files", form).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Sends <paramref name="op"/> as <paramref name="actor"/>, asserts a 2xx, and returns its JSON (or <c>{}</c> for binary content).</summary>
    private async Task<JsonElement> SendOkAsync(string actor, Op op, Dictionary<string, string> v)
    {
        using var response = await SendAsync(actor, op, v, actor);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{actor.ToUpperInvariant()}: {op.Method} {Resolve(op, actor, v).Path}: {(int)response.StatusCode} {text}");
        return response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonDocument.Parse(text).RootElement.Clone() : JsonDocument.Parse("{}").RootElement;
    }

    private async Task<HttpResponseMessage> SendAsync(string actor, Op op, Dictionary<string, string> v, string test)
    {
        var (path, json) = Resolve(op, actor, v);
        using var client = _relay.CreateClient(_keys[actor]);
        using var request = new HttpRequestMessage(new HttpMethod(op.Method), path);
        request.Headers.Add("x-test-id", test);
        if (op.Form is { } field)
        {
            var form = new MultipartFormDataContent();
            form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes("hello")), field, "part.bin");
            request.Content = form;
        }
        else if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private async Task<List<string>> ListAsync(string actor, string collection, string test)
    {
        using var response = await SendAsync(actor, new Op("GET", collection + "?limit=100"), [], test);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        Assert.False(root.GetProperty("has_more").GetBoolean());
        return [.. root.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)];
    }

    /// <summary>
    /// One request of a family's table: <c>&lt;var&gt;</c> placeholders in its path (under <c>/v1</c>) and JSON body;
    /// <see cref="Form"/> sends a multipart body with one file field of that name instead. B is refused every one;
    /// A succeeds at each unless <see cref="OwnerToo"/> is false (a step A already took in the setup).
    /// </summary>
    private sealed record Op(string Method, string Path, string? Json = null, string? Form = null, bool OwnerToo = true);

    /// <summary>
    /// A family: what A creates (<c>id</c>, and what else the requests name), the requests that reach it, the delete
    /// that ends it (none for families OpenAI never deletes), and the lists (collection, var) that must show A's objects.
    /// </summary>
    private sealed record Family(string Name, Func<ObjectFamilyIsolationTests, Dictionary<string, string>, Task> Setup, Op[] Ops, Op? Delete, (string Path, string Var)[] Lists);
}

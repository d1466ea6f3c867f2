using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>
/// The official Node SDK (<c>openai</c> from npm) as two tenants of one relay in per-key isolation:
/// <c>test/node-sdk/isolation.test.mjs</c> stores objects with key A (a file, a vector store of it, a batch naming it,
/// a response and its continuation), tries them with key B, and records what every call did; the assertions are
/// made here, from that record and from what reached the fake upstream.
/// </summary>
public sealed class NodeSdkIsolationTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), new Dictionary<string, string?>
        {
            ["Relay:AdminToken"] = AdminToken,
            ["Relay:Isolation:Mode"] = "per-key",
        });
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task NodeSdk_KeyBGetsNotFoundForEveryObjectOfKeyA_ListsOnlyItsOwn_AndKeyAReachesAllOfIts()
    {
        var (a, _) = await CreateKeyAsync(_relay, new { name = "sdk-alice" });
        var (b, _) = await CreateKeyAsync(_relay, new { name = "sdk-bob" });
        var test = Guid.NewGuid().ToString("N");
        var (exitCode, log) = await NodeSuite.RunAsync(
            "isolation.test.mjs",
            new Dictionary<string, string>
            {
                ["OPENAI_BASE_URL"] = _relay.ApiBase.ToString(),
                ["OPENAI_API_KEY"] = a,
                ["RELAY_ISOLATION_KEY_B"] = b,
                ["RELAY_TEST_ID"] = test,
            },
            TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, "node --test failed:\n" + log);
        Assert.Contains("# pass 1", log, StringComparison.Ordinal);
        var result = Result(log);

        var created = result.GetProperty("created");
        var file = Id(created, "file", "file-");
        var store = Id(created, "vectorStore", "vs_");
        var batch = Id(created, "batch", "batch_");
        var response = Id(created, "response", "resp_");
        var continuation = Id(created, "continuation", "resp_");
        Assert.Equal(response, created.GetProperty("continuationPrevious").GetString());
        var filesOfB = created.GetProperty("filesOfB").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(7, filesOfB.Count);
        Assert.All(filesOfB, id => Assert.StartsWith("file-", id, StringComparison.Ordinal));

        // A's own calls all succeed, before and after B's attempts.
        var ownA = result.GetProperty("a");
        foreach (var phase in new[] { "before", "after" })
        {
            foreach (var call in ownA.GetProperty(phase).EnumerateObject())
            {
                Assert.True(call.Value.GetProperty("ok").GetBoolean(), $"A's {call.Name} ({phase}): {call.Value}");
                Assert.Equal(200, call.Value.GetProperty("status").GetInt32());
            }
        }

        Assert.Equal(file, ownA.GetProperty("before").GetProperty("files.retrieve").GetProperty("id").GetString());
        Assert.Equal(store, ownA.GetProperty("before").GetProperty("vectorStores.retrieve").GetProperty("id").GetString());
        Assert.Equal(batch, ownA.GetProperty("before").GetProperty("batches.retrieve").GetProperty("id").GetString());
        Assert.Equal(response, ownA.GetProperty("before").GetProperty("responses.retrieve").GetProperty("id").GetString());
        Assert.Equal(continuation, ownA.GetProperty("before").GetProperty("responses.retrieve(continuation)").GetProperty("id").GetString());
        Assert.Equal(0, ownA.GetProperty("failedAttempts").GetArrayLength());
        // A's lists hold its own objects (the batch's output file joins once A has read the batch) and none of B's.
        var listedByA = Ids(ownA, "listedFiles");
        Assert.Contains(file, listedByA);
        Assert.Empty(listedByA.Intersect(filesOfB));
        Assert.Equal([store], Ids(ownA, "listedVectorStores"));
        Assert.Equal([batch], Ids(ownA, "listedBatches"));

        // B gets the SDK's NotFoundError (404) for every one of A's objects, by id and named in a body.
        var probes = result.GetProperty("b").GetProperty("probes");
        string[] required =
        [
            "files.retrieve", "files.content", "vectorStores.retrieve", "batches.retrieve", "responses.retrieve",
            "responses.create(previous_response_id)", "batches.create(input_file_id)",
        ];
        foreach (var name in required)
        {
            Assert.True(probes.TryGetProperty(name, out _), $"no probe {name}");
        }

        foreach (var probe in probes.EnumerateObject())
        {
            Assert.False(probe.Value.GetProperty("ok").GetBoolean(), $"B's {probe.Name} succeeded: {probe.Value}");
            Assert.True(
                probe.Value.GetProperty("status").ValueKind == JsonValueKind.Number && probe.Value.GetProperty("status").GetInt32() == 404,
                $"B's {probe.Name}: {probe.Value}");
            Assert.Equal("NotFoundError", probe.Value.GetProperty("error").GetString());
        }

        Assert.Equal($"No such File object: {file}", probes.GetProperty("files.retrieve").GetProperty("message").GetString());
        Assert.Equal($"No such File object: {file}", probes.GetProperty("batches.create(input_file_id)").GetProperty("message").GetString());
        Assert.Contains(response, probes.GetProperty("responses.create(previous_response_id)").GetProperty("message").GetString(), StringComparison.Ordinal);
        // One attempt each (a 404 is not retried), every one answered 404.
        var attempts = result.GetProperty("b").GetProperty("probeAttempts").EnumerateArray().ToList();
        Assert.Equal(probes.EnumerateObject().Count(), attempts.Count);
        Assert.All(attempts, attempt => Assert.Equal(404, attempt.GetProperty("status").GetInt32()));

        // B's auto-paginated file list: all of its own, newest first, over pages of 3 (3, 3, 1), none of A's.
        var listedByB = Ids(result.GetProperty("b"), "listedFiles");
        Assert.Equal(Enumerable.Reverse(filesOfB), listedByB);
        Assert.DoesNotContain(file, listedByB);
        var pages = result.GetProperty("b").GetProperty("filePages").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(3, pages.Count);
        Assert.Equal("/v1/files?limit=3", pages[0]);
        Assert.Contains($"after={listedByB[2]}", pages[1], StringComparison.Ordinal);
        Assert.Contains($"after={listedByB[5]}", pages[2], StringComparison.Ordinal);
        Assert.Empty(Ids(result.GetProperty("b"), "listedVectorStores"));
        Assert.Empty(Ids(result.GetProperty("b"), "listedBatches"));

        // With the SDK's default Accept-Encoding (Node's fetch asks for gzip, deflate; the fake compresses as OpenAI's
        // edge does), B is refused all the same.
        foreach (var probe in result.GetProperty("b").GetProperty("compressed").EnumerateObject())
        {
            Assert.Equal(404, probe.Value.GetProperty("status").GetInt32());
            Assert.Equal("NotFoundError", probe.Value.GetProperty("error").GetString());
        }

        var compressed = ownA.GetProperty("compressed");
        // A response is metered, so the relay asks the upstream for it uncompressed and records its owner.
        Assert.Equal(200, compressed.GetProperty("responses.retrieve").GetProperty("status").GetInt32());
        // Objects A creates with the SDK's default headers are A's too: the relay asks the upstream for an answer it
        // reads (a create, a read it keeps as the list snapshot) uncompressed, as it does for metered ones.
        foreach (var name in new[] { "files.retrieve", "vectorStores.retrieve", "batches.retrieve" })
        {
            Assert.Equal(200, compressed.GetProperty(name).GetProperty("status").GetInt32());
        }

        Assert.Contains(compressed.GetProperty("created").GetProperty("file").GetString()!, Ids(compressed, "listedFiles"));

        // Nothing B tried on A's objects, and none of B's lists, reached the upstream; B's own uploads did.
        Assert.Equal(0, SpentBudget.Upstream(_fake, test + "-b-probe"));
        Assert.Equal(7, SpentBudget.Upstream(_fake, test + "-b-own"));
        Assert.True(SpentBudget.Upstream(_fake, test + "-a") > 0);
    }

    private static JsonElement Result(string log)
    {
        const string marker = "isolation-result: ";
        var start = log.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(start >= 0, "the script printed no result:\n" + log);
        start += marker.Length;
        var end = log.IndexOf('\n', start);
        return JsonDocument.Parse(end < 0 ? log[start..] : log[start..end]).RootElement.Clone();
    }

    private static string Id(JsonElement created, string name, string prefix)
    {
        var id = created.GetProperty(name).GetString()!;
        Assert.StartsWith(prefix, id, StringComparison.Ordinal);
        return id;
    }

    private static List<string> Ids(JsonElement parent, string name) =>
        parent.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToList();
}

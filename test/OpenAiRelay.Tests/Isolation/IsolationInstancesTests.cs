using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>
/// Two relay instances in per-key isolation on ONE PostgreSQL (as behind a load balancer): each with its own data
/// directory and the same <c>RELAY_KEY_PEPPER</c>, keys made through instance 1's admin API. What a key creates
/// through one instance is its own on the other, and on an instance restarted on the same store.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class IsolationInstancesTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string Pepper = "isolation-instances-pepper-0123456789abcdef";

    private FakeOpenAiServer _fake = null!;
    private StoreTarget _store = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        _store = await StoreTarget.CreateAsync(StoreTarget.Postgres, postgres);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task AFileCreatedThroughInstance1_IsOnlyItsOwnersOnInstance2_AndAfterInstance2Restarts()
    {
        await using var one = await StartInstanceAsync();
        RelayServer? two = await StartInstanceAsync();
        try
        {
            var (a, _) = await CreateKeyAsync(one, new { name = "alice" });
            var (b, _) = await CreateKeyAsync(one, new { name = "bob" });
            var file = await UploadAsync(one, a);
            var test = Guid.NewGuid().ToString("N");

            await AssertOnlyAReachesAsync(two, a, b, file, test);

            // Instance 2 goes away and a new one starts on the same store: nothing of the ownership lived in its memory.
            await two.DisposeAsync();
            two = null;
            two = await StartInstanceAsync();
            await AssertOnlyAReachesAsync(two, a, b, file, test);

            // The other way round: what A creates through the new instance 2 is A's on instance 1 too.
            var second = await UploadAsync(two, a);
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(one, a, Get($"v1/files/{second}", test)));
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(one, b, Get($"v1/files/{second}", test)));
            Assert.Equal([second, file], (await ListAsync(one, a, test)).Where(id => id == file || id == second));
            Assert.Empty(await ListAsync(one, b, test));

            // B's refusals and every list were answered by the relays; only A's reads (2 + 2, then 1) reached the upstream.
            Assert.Equal(2 + 2 + 1, _fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
        }
        finally
        {
            if (two is not null)
            {
                await two.DisposeAsync();
            }
        }
    }

    private static async Task AssertOnlyAReachesAsync(RelayServer relay, string a, string b, string file, string test)
    {
        foreach (var path in new[] { $"v1/files/{file}", $"v1/files/{file}/content" })
        {
            using var client = relay.CreateClient(b);
            using var refused = await client.SendAsync(Get(path, test)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Equal($"No such File object: {file}", (await ErrorAsync(refused)).GetProperty("message").GetString());
        }

        using (var delete = new HttpRequestMessage(HttpMethod.Delete, $"v1/files/{file}"))
        {
            delete.Headers.Add("x-test-id", test);
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(relay, b, delete));
        }

        // Named in a body, too.
        var batch = $$"""{"input_file_id":"{{file}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""";
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(relay, b, Post("v1/batches", batch, test)));

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, a, Get($"v1/files/{file}", test)));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, a, Get($"v1/files/{file}/content", test)));
        Assert.Contains(file, await ListAsync(relay, a, test));
        Assert.DoesNotContain(file, await ListAsync(relay, b, test));
    }

    /// <summary>An instance of its own data directory on the shared PostgreSQL, per-key.</summary>
    private Task<RelayServer> StartInstanceAsync()
    {
        var settings = new Dictionary<string, string?>(_store.Settings)
        {
            ["Relay:AdminToken"] = AdminToken,
            ["Relay:Isolation:Mode"] = "per-key",
            ["Relay:Keys:Pepper"] = Pepper,
        };
        // Each instance its own (RelayServer makes one and deletes it on dispose); the store's stays the store's.
        settings.Remove("Relay:Storage:DataDirectory");
        return RelayServer.StartAsync(_fake.BaseAddress.ToString(), settings);
    }

    private static async Task<string> UploadAsync(RelayServer relay, string key)
    {
        using var form = new MultipartFormDataContent();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"custom_id\":\"1\"}\n"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        form.Add(content, "file", "batch.jsonl");
        form.Add(new StringContent("batch"), "purpose");
        using var client = relay.CreateClient(key);
        using var response = await client.PostAsync("v1/files", form).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<List<string>> ListAsync(RelayServer relay, string key, string test)
    {
        using var client = relay.CreateClient(key);
        using var response = await client.SendAsync(Get("v1/files", test)).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        Assert.False(root.GetProperty("has_more").GetBoolean());
        return root.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Npgsql;
using OpenAiRelay.Tests.Infrastructure;
using StackExchange.Redis;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// docs/scaling.md's topology: <c>docker-compose -f compose.yaml -f compose.scale.yaml config</c>, with a .env made by
/// the page's own secrets command, is checked and then replayed on loopback without a Docker engine (none runs here),
/// as the other deployment tests replay compose.yaml: Debian's PostgreSQL and Redis stand in for the two services, two
/// published relays run with the environment compose renders for <c>relay</c> and <c>relay-2</c> (the image's ENV
/// under it, only the container addresses mapped to loopback), and Debian's nginx runs the shipped site after the
/// page's <c>sed</c> line, in front of the fake OpenAI upstream.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ScaleTopologyTests(PostgresServer postgres)
{
    private const string AdminToken = "scale-admin-token-0123456789abcdef0123456789";
    private const string ScaleDoc = "docs/scaling.md";
    private const string InstalledSite = "/etc/nginx/sites-available/openai-relay.conf";

    /// <summary>How long another instance may keep accepting a revoked key: <c>Relay:Keys:CacheTtl</c>'s default.</summary>
    private static readonly TimeSpan s_cacheTtl = new OpenAiRelay.Configuration.KeyOptions().CacheTtl;

    [Fact]
    public async Task Config_TwoIdenticalInstances_OnLoopback_SharingOnePepperDatabaseAndRedis_FromTheDocumentedSecrets()
    {
        var (config, secrets) = await RenderAsync("OPENAI_BASE_URL=http://upstream.invalid/v1\n");
        var relay = config.Service("relay");
        var relay2 = config.Service("relay-2");

        // Published on the host's loopback only, one port each, the container listening on 3001 in both.
        Assert.Equal("127.0.0.1:3001:3001", PortMapping(Assert.Single(relay.GetProperty("ports").EnumerateArray())));
        Assert.Equal("127.0.0.1:3002:3001", PortMapping(Assert.Single(relay2.GetProperty("ports").EnumerateArray())));
        Assert.Equal("relay-data:/data", VolumeMapping(Assert.Single(relay.GetProperty("volumes").EnumerateArray())));
        Assert.Equal("relay-2-data:/data", VolumeMapping(Assert.Single(relay2.GetProperty("volumes").EnumerateArray())));

        // relay-2 is compose.yaml's relay in every other respect: image, environment, hardening, restart, logging.
        Assert.Equal(Canonical(Without(relay, "ports", "volumes")), Canonical(Without(relay2, "ports", "volumes")));
        foreach (var service in new[] { relay, relay2 })
        {
            Assert.True(service.GetProperty("read_only").GetBoolean());
            Assert.True(service.GetProperty("init").GetBoolean());
            Assert.Equal(["ALL"], service.GetProperty("cap_drop").EnumerateArray().Select(c => c.GetString()));
            Assert.Equal("45s", service.GetProperty("stop_grace_period").GetString());
            foreach (var store in new[] { "postgres", "redis" })
            {
                Assert.Equal("service_healthy", service.GetProperty("depends_on").GetProperty(store).GetProperty("condition").GetString());
            }
        }

        // The stores: pinned images, a health check, on the relays' network, never published.
        foreach (var (name, image) in new[] { ("postgres", "postgres:"), ("redis", "redis:") })
        {
            var service = config.Service(name);
            Assert.Matches(@"^" + image + @"\d+\.\d+(\.\d+)?(-bookworm)?$", service.GetProperty("image").GetString());
            Assert.False(service.TryGetProperty("ports", out _), name + " must not be published");
            Assert.True(service.GetProperty("networks").TryGetProperty("relay", out _));
            Assert.Equal("CMD", service.GetProperty("healthcheck").GetProperty("test")[0].GetString());
            Assert.Equal("unless-stopped", service.GetProperty("restart").GetString());
        }

        Assert.Equal("postgres-data:/var/lib/postgresql/data", VolumeMapping(Assert.Single(config.Service("postgres").GetProperty("volumes").EnumerateArray())));

        // One pepper, one database, one Redis for both, each secret the one .env holds.
        var environment = relay.GetProperty("environment");
        Assert.Equal(secrets["RELAY_KEY_PEPPER"], environment.GetProperty("RELAY_KEY_PEPPER").GetString());
        var database = new Uri(environment.GetProperty("DATABASE_URL").GetString()!);
        var postgresEnvironment = config.Service("postgres").GetProperty("environment");
        Assert.Equal(("postgres", "postgres", 5432), (database.Scheme, database.Host, database.Port));
        Assert.Equal($"{postgresEnvironment.GetProperty("POSTGRES_USER").GetString()}:{secrets["POSTGRES_PASSWORD"]}", database.UserInfo);
        Assert.Equal(secrets["POSTGRES_PASSWORD"], postgresEnvironment.GetProperty("POSTGRES_PASSWORD").GetString());
        Assert.Equal("/" + postgresEnvironment.GetProperty("POSTGRES_DB").GetString(), database.AbsolutePath);
        var redis = new Uri(environment.GetProperty("REDIS_URL").GetString()!);
        Assert.Equal(("redis", "redis", 6379, "/0"), (redis.Scheme, redis.Host, redis.Port, redis.AbsolutePath));
        Assert.Equal(":" + secrets["REDIS_PASSWORD"], redis.UserInfo);
        Assert.Equal(secrets["REDIS_PASSWORD"], RedisPassword(config));
        // Nothing persisted, nothing evicted (docs/limits.md: an evicted counter resets a limit).
        var command = config.Service("redis").GetProperty("command").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Equal("noeviction", command[command.IndexOf("--maxmemory-policy") + 1]);
        Assert.Equal("no", command[command.IndexOf("--appendonly") + 1]);
        Assert.Equal("", command[command.IndexOf("--save") + 1]);
    }

    [Theory]
    [InlineData("RELAY_KEY_PEPPER")]
    [InlineData("POSTGRES_PASSWORD")]
    [InlineData("REDIS_PASSWORD")]
    public async Task Config_WithoutOneOfTheSecrets_FailsNamingIt(string secret)
    {
        var secrets = await DocumentedSecretsAsync();
        var dotEnv = BaseDotEnv("http://upstream.invalid/v1") + string.Concat(secrets.Where(s => s.Key != secret).Select(s => $"{s.Key}={s.Value}\n"));
        var config = await ComposeConfig.RunAsync(dotEnv, "-f", "compose.scale.yaml", "config");
        Assert.NotEqual(0, config.ExitCode);
        Assert.Contains($"set {secret} in .env", config.Errors, StringComparison.Ordinal);

        // compose.yaml alone (one instance) needs none of them.
        var single = await ComposeConfig.RunAsync(BaseDotEnv("http://upstream.invalid/v1"));
        Assert.True(single.ExitCode == 0, single.Errors);
    }

    /// <summary>
    /// The topology at work: a key made on instance 1 is used through nginx, round robin over both instances; the
    /// shared ledger holds one row per request that reached the upstream with the usage the upstream reported; the key
    /// revoked on instance 2 is refused through nginx by both within the key cache's TTL; and with instance 2 stopped,
    /// nginx sends everything to instance 1.
    /// </summary>
    [Fact]
    public async Task TwoInstancesBehindNginx_ShareKeysLedgerAndRevocation_AndOneServesAloneWhenTheOtherStops()
    {
        var root = Path.Combine(Path.GetTempPath(), "openai-relay-scale-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var test = Guid.NewGuid().ToString("N");
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero }).DefaultTimeout();
        var (config, secrets) = await RenderAsync($"OPENAI_BASE_URL={fake.BaseAddress}v1\nRELAY_ADMIN_TOKEN={AdminToken}\n");

        // The stores, from Debian's packages, with the credentials compose gives the relays.
        var composeDatabase = new Uri(config.Service("relay").GetProperty("environment").GetProperty("DATABASE_URL").GetString()!);
        var databaseUrl = await ReplayDatabaseAsync(composeDatabase);
        await using var redisServer = await RedisServer.StartAsync();
        var redisPassword = RedisPassword(config);
        await RequirePasswordAsync(redisServer, redisPassword);
        var composeRedis = new Uri(config.Service("relay").GetProperty("environment").GetProperty("REDIS_URL").GetString()!);
        var redisUrl = $"{composeRedis.Scheme}://{composeRedis.UserInfo}@127.0.0.1:{redisServer.Port}{composeRedis.AbsolutePath}";

        var instances = new List<Instance>();
        NginxServer? nginx = null;
        try
        {
            foreach (var name in new[] { "relay", "relay-2" })
            {
                instances.Add(await StartInstanceAsync(name, config.Service(name), Path.Combine(root, name + "-data"), databaseUrl, redisUrl));
            }

            var (one, two) = (instances[0], instances[1]);
            foreach (var instance in instances)
            {
                // Both on the shared stores: Redis answered (no degraded limits) and the ledger is PostgreSQL.
                using var direct = Direct(instance, token: null);
                var ready = JsonDocument.Parse(await direct.GetStringAsync(new Uri("readyz", UriKind.Relative)).DefaultTimeout()).RootElement;
                Assert.Equal("ready", ready.GetProperty("status").GetString());
                Assert.False(ready.TryGetProperty("limits", out _), $"{instance.Name}: limits degraded: {ready}");
            }

            // nginx: the shipped site after docs/scaling.md's sed line, rendered like every deployment test's site.
            var certificate = TestCertificate.Create(Path.Combine(root, "tls"), NginxRelayStack.HostName);
            var site = await TwoUpstreamSiteAsync(root);
            nginx = await StartNginxAsync(root, site, certificate, [one.Port, two.Port]);
            using var client = NginxClient(nginx, certificate);

            // A key made on instance 1 (`docker compose exec relay openai-relay keys create`), against the shared database.
            var key = await CreateKeyAsync(one, "scale-alice");
            var keyId = key[8..18];
            client.DefaultRequestHeaders.Authorization = new("Bearer", key);

            // 20 requests through nginx over TLS, every other one a stream, each with usage of its own.
            var served = new List<Served>();
            for (var i = 0; i < 20; i++)
            {
                var sent = await SendAsync(client, test, served.Count + 1, stream: i % 2 == 1);
                Assert.True(sent.Status == HttpStatusCode.OK, $"request {i}: {sent.Status}\n{nginx.ErrorLog}");
                served.Add(sent.Served!);
            }

            // Each request was served by exactly one instance, and both served some.
            var servedBy = await WaitForServedByAsync(instances, served);
            foreach (var instance in instances)
            {
                Assert.True(servedBy.Contains(instance.Name), $"{instance.Name} served none of the 20: {string.Join(", ", servedBy)}\n{nginx.ErrorLog}");
            }

            // The ledger: exactly one row per request, with the usage the upstream reported.
            await AssertLedgerAsync(databaseUrl, keyId, served);

            // Revoked on instance 2 through its admin API: refused there at once, and through nginx on both within the TTL.
            var revokedAt = Stopwatch.GetTimestamp();
            using (var admin = Direct(two, AdminToken))
            using (var revoked = await admin.DeleteAsync(new Uri("admin/keys/scale-alice", UriKind.Relative)).DefaultTimeout())
            {
                Assert.True(revoked.IsSuccessStatusCode, $"revoke on relay-2: {revoked.StatusCode} {await revoked.Content.ReadAsStringAsync()}");
            }

            var revokedBy = Stopwatch.GetElapsedTime(revokedAt);

            using (var direct = Direct(two, key))
            {
                var refused = await SendAsync(direct, test, served.Count + 1, stream: false);
                Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
            }

            // Poll through nginx until both instances refuse: four 401s in a row (round robin: two each) and instance 1
            // logged one. Requests admitted meanwhile (instance 1's cache) are served and must be in the ledger too.
            // Spaced out: a refused token counts against the failed-auth allowance (20 a minute per address and instance).
            var deadline = s_cacheTtl + TimeSpan.FromSeconds(5);
            var refusedInARow = 0;
            var lastAdmitted = TimeSpan.Zero;
            while (refusedInARow < 4 || Refusals(one) == 0)
            {
                var elapsed = Stopwatch.GetElapsedTime(revokedAt);
                Assert.True(elapsed < deadline, $"{elapsed} after the revocation, through nginx: {refusedInARow} refusals in a row, relay refused {Refusals(one)}, relay-2 {Refusals(two)}");
                var sent = await SendAsync(client, test, served.Count + 1, stream: false);
                if (sent.Status == HttpStatusCode.OK)
                {
                    refusedInARow = 0;
                    lastAdmitted = elapsed;
                    served.Add(sent.Served!);
                }
                else
                {
                    Assert.Equal(HttpStatusCode.Unauthorized, sent.Status);
                    refusedInARow++;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(300));
            }

            Assert.True(Refusals(two) > 0, "relay-2 logged no refusal");
            // The documented bound: instance 1 verified the key at the latest just before the revocation committed
            // (when the DELETE returned), and trusts that for one TTL; no request sent after that was admitted. (A second
            // of slack: the cache's clock starts when that last lookup's read returns, and it runs on the wall clock,
            // this test on the monotonic one.)
            Assert.True(lastAdmitted < revokedBy + s_cacheTtl + TimeSpan.FromSeconds(1), $"a request sent {lastAdmitted} after the revocation (committed by {revokedBy}) was still admitted; Relay:Keys:CacheTtl is {s_cacheTtl}");

            // Instance 2 stops (docker compose stop relay-2: SIGTERM, a graceful drain): nginx sends every request to
            // instance 1, POSTs included (a refused connection sent nothing, so nginx passes it on).
            two.Process.Terminate();
            Assert.Equal(0, await two.Process.WaitForExitAsync(TimeSpan.FromSeconds(40)));
            client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
            var alone = new List<Served>();
            for (var i = 0; i < 4; i++)
            {
                var sent = await SendAsync(client, test, served.Count + alone.Count + 1, stream: i % 2 == 1);
                Assert.True(sent.Status == HttpStatusCode.OK, $"with relay-2 stopped, request {i}: {sent.Status}\n{nginx.ErrorLog}");
                alone.Add(sent.Served!);
            }

            Assert.All(await WaitForServedByAsync([one], alone), s => Assert.Equal("relay", s));
            // nginx did try the stopped instance, and passed the request on instead of answering 502.
            Assert.Contains(nginx.ErrorLog.Split('\n'), l => l.Contains("Connection refused", StringComparison.Ordinal) && l.Contains($"127.0.0.1:{two.Port}", StringComparison.Ordinal));

            // Every request the upstream saw has its one row, whichever instance served it; refusals wrote none.
            await AssertLedgerAsync(databaseUrl, keyId, served);
            await AssertLedgerAsync(databaseUrl, "relay-token", alone);
            Assert.Equal(served.Count + alone.Count, fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test));
            Assert.Equal(served.Count + alone.Count, await CountAsync(databaseUrl, "SELECT count(*) FROM usage_records"));
            Console.WriteLine($"ScaleTopology: {served.Count} requests served with the key ({string.Join(", ", servedBy.GroupBy(s => s).Select(g => $"{g.Key} {g.Count()}"))} of the first 20), the last admitted {lastAdmitted.TotalSeconds:F1} s after the revocation");
        }
        finally
        {
            if (nginx is not null)
            {
                await nginx.DisposeAsync();
            }

            foreach (var instance in instances)
            {
                await instance.Process.DisposeAsync();
            }

            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private sealed record Instance(string Name, int Port, Dictionary<string, string> Environment, RelayProcess Process);

    /// <summary>A request the relay admitted: its ledger id, the upstream's id, and the usage the upstream was told to report.</summary>
    private sealed record Served(string RequestId, string UpstreamRequestId, int InputTokens, int OutputTokens, bool Stream);

    private sealed record Sent(HttpStatusCode Status, Served? Served);

    private static string BaseDotEnv(string baseUrl) =>
        $"OPENAI_API_KEY={RelayServer.UpstreamKeyCanary}\nRELAY_TOKEN={RelayServer.ClientToken}\nOPENAI_BASE_URL={baseUrl}\n";

    /// <summary>
    /// docs/scaling.md step 1's command, run as written in a folder holding a .env like deploy.md's, then compose's
    /// rendering of both files beside the result.
    /// </summary>
    private static async Task<(ComposeConfig.Result Config, Dictionary<string, string> Secrets)> RenderAsync(string extraDotEnv)
    {
        var secrets = await DocumentedSecretsAsync();
        var dotEnv = $"OPENAI_API_KEY={RelayServer.UpstreamKeyCanary}\nRELAY_TOKEN={RelayServer.ClientToken}\n" + extraDotEnv
            + string.Concat(secrets.Select(s => $"{s.Key}={s.Value}\n"));
        var config = await ComposeConfig.RunAsync(dotEnv, "-f", "compose.scale.yaml", "config");
        Assert.True(config.ExitCode == 0, "docker-compose -f compose.yaml -f compose.scale.yaml config failed:\n" + config.Errors);
        return (config, secrets);
    }

    /// <summary>Runs the page's secrets block (the one that appends RELAY_KEY_PEPPER to .env) and returns what it appended.</summary>
    private static async Task<Dictionary<string, string>> DocumentedSecretsAsync()
    {
        var block = FencedBlocks(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, ScaleDoc)))
            .Single(b => b.Contains("RELAY_KEY_PEPPER=$(openssl rand -hex 32)", StringComparison.Ordinal));
        var directory = Path.Combine(Path.GetTempPath(), "openai-relay-secrets-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        try
        {
            var dotEnv = Path.Combine(directory, ".env");
            await File.WriteAllTextAsync(dotEnv, BaseDotEnv("http://upstream.invalid/v1"));
            await RunAsync("/bin/sh", ["-e", "-c", block], directory, null);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dotEnv));
            }

            var appended = (await File.ReadAllLinesAsync(dotEnv)).Skip(3).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            Assert.Equal(["POSTGRES_PASSWORD", "REDIS_PASSWORD", "RELAY_KEY_PEPPER"], appended.Keys.Order());
            Assert.All(appended.Values, v => Assert.Matches("^[0-9a-f]{64}$", v));
            Assert.Equal(3, appended.Values.Distinct().Count());
            return appended;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The shipped site after the page's <c>sed</c> line (run as written, on a copy): one server line more, nothing else.</summary>
    private static async Task<string> TwoUpstreamSiteAsync(string root)
    {
        var sed = (await File.ReadAllLinesAsync(Path.Combine(RepositoryPaths.Root, ScaleDoc)))
            .Single(l => l.StartsWith("sed -i ", StringComparison.Ordinal) && l.Contains("3002", StringComparison.Ordinal));
        Assert.EndsWith(" " + InstalledSite, sed, StringComparison.Ordinal);
        var copy = Path.Combine(root, "openai-relay.conf");
        File.Copy(NginxSite.ShippedPath, copy);
        await RunAsync("/bin/sh", ["-e", "-c", sed[..^InstalledSite.Length] + "'" + copy + "'"], root, null);
        var shipped = await File.ReadAllLinesAsync(NginxSite.ShippedPath);
        var edited = await File.ReadAllLinesAsync(copy);
        var first = Array.FindIndex(shipped, l => l.Trim() == "server 127.0.0.1:3001;");
        Assert.Equal([.. shipped[..(first + 1)], "    server 127.0.0.1:3002;", .. shipped[(first + 1)..]], edited);
        return await File.ReadAllTextAsync(copy);
    }

    private static async Task<NginxServer> StartNginxAsync(string root, string site, TestCertificate certificate, IReadOnlyList<int> relayPorts)
    {
        for (var attempt = 1; ; attempt++)
        {
            // As NginxRelayStack: a port FreePort() just released can be taken before nginx binds it; try new ones.
            var (httpPort, httpsPort) = (RelayProcess.FreePort(), RelayProcess.FreePort());
            if (httpPort == httpsPort)
            {
                continue;
            }

            try
            {
                return await NginxServer.StartAsync(Path.Combine(root, $"nginx-{attempt}"), NginxSite.Render(site, certificate, httpPort, httpsPort, relayPorts), httpPort, httpsPort);
            }
            catch (Xunit.Sdk.XunitException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<Instance> StartInstanceAsync(string name, JsonElement service, string dataDirectory, string databaseUrl, string redisUrl)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = RelayProcess.FreePort();
            var environment = ReplayEnvironment(service, port, dataDirectory, databaseUrl, redisUrl);
            var process = await PublishedRelay.StartAsync(environment);
            try
            {
                await process.WaitUntilHealthyAsync(port).DefaultTimeout();
                return new Instance(name, port, environment, process);
            }
            catch (Xunit.Sdk.XunitException) when (attempt < 3 && process.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // As with nginx: the free port was taken by another test before the relay bound it. Another one.
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// One relay's environment as the container gets it: the image's ENV, then compose's (env_file .env and the
    /// service's own values). Host stand-ins only for what exists in a container alone: the listener (the published
    /// address and a free port for 0.0.0.0:3001), the /data volume, the store hosts of the compose network.
    /// </summary>
    private static Dictionary<string, string> ReplayEnvironment(JsonElement service, int port, string dataDirectory, string databaseUrl, string redisUrl)
    {
        var dockerfile = Dockerfile.Parse(Path.Combine(RepositoryPaths.Root, "Dockerfile"));
        var environment = dockerfile.Environment(dockerfile.Stages[^1]).Where(e => e.Key != "PATH").ToDictionary(StringComparer.Ordinal);
        foreach (var variable in service.GetProperty("environment").EnumerateObject())
        {
            environment[variable.Name] = variable.Value.GetString()!;
        }

        var published = PortMapping(Assert.Single(service.GetProperty("ports").EnumerateArray())).Split(':');
        Assert.Equal(("0.0.0.0", published[2]), (environment["BIND_ADDRESS"], environment["PORT"]));
        environment["BIND_ADDRESS"] = published[0];
        environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        Assert.Equal("/data", environment["RELAY_DATA_DIR"]);
        environment["RELAY_DATA_DIR"] = dataDirectory;
        Directory.CreateDirectory(dataDirectory);
        environment["DATABASE_URL"] = databaseUrl;
        environment["REDIS_URL"] = redisUrl;
        return environment;
    }

    /// <summary>
    /// A fresh database on the test server, owned by compose's role (<c>relay</c>, its password), as the postgres image
    /// makes them from POSTGRES_USER and POSTGRES_PASSWORD; compose's URL with only the host, port and name mapped.
    /// </summary>
    private async Task<string> ReplayDatabaseAsync(Uri composeUrl)
    {
        var parts = composeUrl.UserInfo.Split(':', 2);
        var (user, password) = (parts[0], parts[1]);
        Assert.Matches("^[a-z]+$", user);
        Assert.Matches("^[0-9a-f]+$", password);
        var database = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync());
        await using (var admin = new NpgsqlConnection(postgres.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN CREATE ROLE {user} LOGIN; END IF; END $$;"
                + $" ALTER ROLE {user} PASSWORD '{password}'; ALTER DATABASE {database.Database} OWNER TO {user};",
                admin);
            await command.ExecuteNonQueryAsync();
        }

        return $"{composeUrl.Scheme}://{user}:{password}@{database.Host}:{database.Port}/{database.Database}";
    }

    /// <summary>The Redis stand-in takes the password compose gives redis-server (--requirepass), and refuses commands without it.</summary>
    private static async Task RequirePasswordAsync(RedisServer server, string password)
    {
        await using (var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{server.Port},allowAdmin=true"))
        {
            await redis.GetServer(redis.GetEndPoints()[0]).ConfigSetAsync("requirepass", password);
        }

        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray());
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer).AsTask().DefaultTimeout();
        Assert.StartsWith("-NOAUTH", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    private static string RedisPassword(ComposeConfig.Result config)
    {
        var command = config.Service("redis").GetProperty("command").EnumerateArray().Select(a => a.GetString()!).ToList();
        Assert.Equal("redis-server", command[0]);
        return command[command.IndexOf("--requirepass") + 1];
    }

    /// <summary><c>openai-relay keys create NAME</c> with the instance's environment, as <c>docker compose exec</c> runs it.</summary>
    private static async Task<string> CreateKeyAsync(Instance instance, string name)
    {
        var output = await RunAsync(await PublishedRelay.GetExecutableAsync(), ["keys", "create", name], Path.GetTempPath(), instance.Environment);
        var key = output.Split('\n')[0].Trim();
        Assert.Matches("^rk_live_[0-9A-Za-z]{10}_[0-9A-Za-z]{40}$", key);
        return key;
    }

    /// <summary>
    /// A chat completion (a stream when asked) whose upstream usage is unique to it: <paramref name="n"/> + 100 input
    /// and <paramref name="n"/> + 7 output tokens. The whole body is read, so the connection goes back to the pool.
    /// </summary>
    private static async Task<Sent> SendAsync(HttpClient client, string test, int n, bool stream)
    {
        var (input, output) = (100 + n, 7 + n);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"request {{n}}"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-test-id", test);
        request.Headers.Add("x-fake-events", "5");
        request.Headers.Add("x-fake-usage", $$"""{"prompt_tokens":{{input}},"completion_tokens":{{output}},"total_tokens":{{input + output}}}""");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            await response.Content.ReadAsStringAsync().DefaultTimeout();
            return new Sent(response.StatusCode, null);
        }

        if (stream)
        {
            var events = await SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout();
            Assert.Equal("data: [DONE]", events[^1].Text);
        }
        else
        {
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout()).RootElement;
            Assert.Equal(input, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }

        return new Sent(HttpStatusCode.OK, new Served(
            response.Headers.GetValues("x-relay-request-id").Single(),
            NginxRelayStack.UpstreamRequestId(response),
            input,
            output,
            stream));
    }

    /// <summary>Which instance logged each request (by the upstream's request id), waiting for the log lines to land.</summary>
    private static async Task<List<string>> WaitForServedByAsync(IReadOnlyList<Instance> instances, IReadOnlyList<Served> served)
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        while (true)
        {
            var logs = instances.Select(i => (i.Name, Ids: RequestLog(i.Process).Select(l => l.GetProperty("UpstreamRequestId").GetString()).ToHashSet())).ToList();
            var by = served.Select(s => logs.Where(l => l.Ids.Contains(s.UpstreamRequestId)).Select(l => l.Name).ToList()).ToList();
            Assert.All(by, names => Assert.True(names.Count <= 1, "one request logged by two instances: " + string.Join(", ", names)));
            if (by.All(names => names.Count == 1))
            {
                return by.Select(names => names[0]).ToList();
            }

            Assert.True(DateTime.UtcNow < deadline, $"{by.Count(n => n.Count == 0)} of {served.Count} requests in no instance's log");
            await Task.Delay(50);
        }
    }

    /// <summary>Refusals (401) an instance has logged for chat completions.</summary>
    private static int Refusals(Instance instance) => RequestLog(instance.Process)
        .Count(l => l.GetProperty("StatusCode").GetInt32() == 401 && l.GetProperty("Path").GetString() == "/v1/chat/completions");

    /// <summary>A relay's per-request log lines so far (JSON console logging, as the image runs it): the <c>State</c> of each.</summary>
    private static List<JsonElement> RequestLog(RelayProcess relay)
    {
        var lines = new List<JsonElement>();
        foreach (var line in relay.Output.Split('\n').Where(l => l.StartsWith('{')))
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.GetProperty("Category").GetString() == "OpenAiRelay.Telemetry.RequestLog")
            {
                lines.Add(document.RootElement.GetProperty("State").Clone());
            }
        }

        return lines;
    }

    /// <summary>
    /// The key's rows in the shared ledger, once all have settled, are exactly the requests served (none lost, none
    /// twice), each with its upstream request id and the upstream's usage, exact.
    /// </summary>
    private static async Task AssertLedgerAsync(string databaseUrl, string keyId, IReadOnlyList<Served> served)
    {
        var deadline = DateTime.UtcNow + TaskTimeouts.Default;
        await using var connection = new NpgsqlConnection(ConnectionString(databaseUrl));
        await connection.OpenAsync();
        while (true)
        {
            var rows = new List<(string RequestId, string? UpstreamRequestId, long Input, long Output, bool Estimated, string Outcome, int Status)>();
            await using (var command = new NpgsqlCommand(
                "SELECT request_id, upstream_request_id, input_tokens, output_tokens, estimated, outcome, status FROM usage_records WHERE key_id = @key", connection))
            {
                command.Parameters.AddWithValue("key", keyId);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetBoolean(4), reader.GetString(5), reader.GetInt32(6)));
                }
            }

            if (rows.Count == served.Count && rows.All(r => r.Outcome != "in_flight"))
            {
                Assert.Equal(served.Select(s => s.RequestId).Order(), rows.Select(r => r.RequestId).Order());
                foreach (var request in served)
                {
                    var row = Assert.Single(rows, r => r.RequestId == request.RequestId);
                    Assert.Equal((request.UpstreamRequestId, request.InputTokens, request.OutputTokens, false, "completed", 200), (row.UpstreamRequestId, row.Input, row.Output, row.Estimated, row.Outcome, row.Status));
                }

                return;
            }

            Assert.True(rows.Count <= served.Count, $"{rows.Count} ledger rows for {served.Count} requests of key {keyId}");
            Assert.True(DateTime.UtcNow < deadline, $"{rows.Count} ledger rows ({rows.Count(r => r.Outcome == "in_flight")} in flight) for {served.Count} requests of key {keyId}");
            await Task.Delay(100);
        }
    }

    private static async Task<long> CountAsync(string databaseUrl, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(databaseUrl));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string ConnectionString(string databaseUrl)
    {
        var url = new Uri(databaseUrl);
        var user = url.UserInfo.Split(':', 2);
        return new NpgsqlConnectionStringBuilder { Host = url.Host, Port = url.Port, Database = url.AbsolutePath.TrimStart('/'), Username = user[0], Password = user[1], Pooling = false }.ConnectionString;
    }

    private static HttpClient Direct(Instance instance, string? token)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{instance.Port}/"), Timeout = TaskTimeouts.Default };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }

        return client;
    }

    /// <summary>
    /// HTTPS to nginx as a client would (SNI and Host relay.test, the test certificate trusted), over one connection at a
    /// time, so that nginx's round robin (per worker) alternates the two instances.
    /// </summary>
    private static HttpClient NginxClient(NginxServer nginx, TestCertificate certificate) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        MaxConnectionsPerServer = 1,
        SslOptions = { RemoteCertificateValidationCallback = certificate.Validate },
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = new Uri($"https://{NginxRelayStack.HostName}:{nginx.HttpsPort}/"),
        Timeout = TaskTimeouts.Default,
    };

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, string directory, IDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var inherited in psi.Environment.Keys.Where(k => k.StartsWith("RELAY_", StringComparison.Ordinal) || k.StartsWith("OPENAI_", StringComparison.Ordinal) || k is "DATABASE_URL" or "REDIS_URL").ToList())
            {
                psi.Environment.Remove(inherited);
            }

            foreach (var (key, value) in environment)
            {
                psi.Environment[key] = value;
            }
        }

        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await output}{await errors}");
        return await output;
    }

    private static IEnumerable<string> FencedBlocks(string markdown)
    {
        var block = (StringBuilder?)null;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (block is null)
                {
                    block = new StringBuilder();
                }
                else
                {
                    yield return block.ToString();
                    block = null;
                }
            }
            else
            {
                block?.AppendLine(line);
            }
        }
    }

    private static JsonElement Without(JsonElement service, params string[] names)
    {
        var copy = service.EnumerateObject().Where(p => !names.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value);
        return JsonSerializer.SerializeToElement(copy);
    }

    private static string Canonical(JsonElement element) => JsonCanonical.Of(element);

    /// <summary>"127.0.0.1:3001:3001" from docker-compose v1's short syntax or v2's long one.</summary>
    private static string PortMapping(JsonElement port) => port.ValueKind == JsonValueKind.String
        ? port.GetString()!.Split('/')[0]
        : $"{port.GetProperty("host_ip").GetString()}:{port.GetProperty("published")}:{port.GetProperty("target")}";

    /// <summary>"source:target" of a named volume from the short syntax (mode dropped) or the long one.</summary>
    private static string VolumeMapping(JsonElement volume) => volume.ValueKind == JsonValueKind.String
        ? string.Join(':', volume.GetString()!.Split(':').Take(2))
        : $"{volume.GetProperty("source").GetString()}:{volume.GetProperty("target").GetString()}";
}

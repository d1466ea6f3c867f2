using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OpenAiRelay.Admin;
using OpenAiRelay.Configuration;
using OpenAiRelay.Forwarding;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Hosting;

/// <summary>
/// What <c>openai-relay check</c> looks at, with the server's own configuration, read the server's way: whether it is
/// valid, whether the upstream accepts the configured key (one <c>GET /v1/models</c>), whether the data directory is
/// writable, whether the ledger database opens, whether the relay is open to anyone, whether Redis answers, and
/// (<c>--through</c>) whether what stands in front passes a stream as it comes (<see cref="FrontCheck"/>). It changes
/// nothing a running relay would not: it applies pending migrations and creates the key pepper, as the server does
/// at start-up.
/// </summary>
internal sealed class SelfCheck(IConfiguration configuration, TimeProvider time, Func<HttpMessageHandler>? frontHandler = null)
{
    public static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Below this, the ledger and its journal can fill the disk within a busy day.</summary>
    public const long LowFreeSpaceBytes = 256L * 1024 * 1024;

    /// <summary>Runs every check; throws <see cref="RelayConfigurationException"/> when the configuration is invalid.</summary>
    public async Task<IReadOnlyList<CheckFinding>> RunAsync(Uri? through, CancellationToken cancellationToken)
    {
        using var services = new ServiceCollection().AddRelayOptions(configuration).BuildServiceProvider();
        RelayConfiguration.ValidateServer(services);
        var upstream = services.GetRequiredService<IOptions<UpstreamOptions>>().Value;
        var storage = services.GetRequiredService<IOptions<StorageOptions>>().Value;
        var keys = services.GetRequiredService<IOptions<KeyOptions>>().Value;
        var relay = services.GetRequiredService<IOptions<RelayOptions>>().Value;
        var redis = services.GetRequiredService<IOptions<RedisOptions>>().Value;
        var endpoint = UpstreamEndpoint.Parse(upstream.BaseUrl);

        var findings = new List<CheckFinding>
        {
            CheckFinding.Pass("configuration", $"valid; upstream {endpoint.DestinationPrefix}"),
            await CheckUpstreamAsync(upstream, endpoint, cancellationToken),
            CheckDataDirectory(storage, keys),
        };
        var (storageFinding, usableKeys) = await CheckStorageAsync(cancellationToken);
        findings.Add(storageFinding);
        findings.Add(CheckAccess(relay, usableKeys));
        if (!string.IsNullOrWhiteSpace(redis.Url))
        {
            findings.Add(await CheckRedisAsync(redis.Url));
        }

        if (through is not null)
        {
            findings.AddRange(await new FrontCheck(frontHandler).RunAsync(through, cancellationToken));
        }

        return findings;
    }

    private static async Task<CheckFinding> CheckUpstreamAsync(UpstreamOptions options, UpstreamEndpoint endpoint, CancellationToken cancellationToken)
    {
        const string Name = "upstream";
        var url = endpoint.DestinationPrefix + "/models";
        using var invoker = UpstreamInvokerFactory.Create(options);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        if (!string.IsNullOrWhiteSpace(options.Organization))
        {
            request.Headers.TryAddWithoutValidation("OpenAI-Organization", options.Organization);
        }

        if (!string.IsNullOrWhiteSpace(options.Project))
        {
            request.Headers.TryAddWithoutValidation("OpenAI-Project", options.Project);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(UpstreamTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await invoker.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            var elapsed = $"{Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms";
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                var count = CountModels(body);
                return CheckFinding.Pass(Name, $"GET {url} answered {status} in {elapsed}{(count is { } n ? $", {n} models" : "")}: the key works");
            }

            // Only the error's code and type: OpenAI's message for a wrong key repeats part of it.
            var (code, type) = ErrorCodeAndType(body);
            var named = new[] { code, type }.OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
            var what = named.Length > 0 ? $" ({string.Join(", ", named)})" : "";
            return response.StatusCode switch
            {
                HttpStatusCode.Unauthorized => CheckFinding.Fail(Name, $"GET {url} answered 401{what}: the upstream refuses OPENAI_API_KEY"),
                HttpStatusCode.Forbidden => CheckFinding.Fail(Name, $"GET {url} answered 403{what}: the key, organization or project may not use this API from here"),
                HttpStatusCode.TooManyRequests when code == "insufficient_quota" => CheckFinding.Fail(Name, $"GET {url} answered 429{what}: the key works but its account has no quota left"),
                HttpStatusCode.TooManyRequests => CheckFinding.Warn(Name, $"GET {url} answered 429{what}: the key works but is rate limited right now"),
                HttpStatusCode.NotFound => CheckFinding.Fail(Name, $"GET {url} answered 404{what}: OPENAI_BASE_URL probably points at the wrong path"),
                _ => CheckFinding.Fail(Name, $"GET {url} answered {status}{what} in {elapsed}"),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckFinding.Fail(Name, $"GET {url} did not answer within {UpstreamTimeout.TotalSeconds:F0} s");
        }
        catch (HttpRequestException e)
        {
            return CheckFinding.Fail(Name, $"cannot reach {endpoint.BaseUri.Authority}: {CheckFinding.ReasonOf(e)}");
        }
    }

    private static int? CountModels(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array ? data.GetArrayLength() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static (string? Code, string? Type) ErrorCodeAndType(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                return (Text(error, "code"), Text(error, "type"));
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);

        static string? Text(JsonElement error, string name)
            => error.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 and <= 64 } text ? text : null;
    }


    /// <summary>
    /// The directory holds the SQLite ledger and, unless <c>RELAY_KEY_PEPPER</c> is set, the key pepper; with
    /// PostgreSQL and a configured pepper the relay writes nothing there.
    /// </summary>
    private static CheckFinding CheckDataDirectory(StorageOptions storage, KeyOptions keys)
    {
        const string Name = "data directory";
        var directory = Path.GetFullPath(storage.DataDirectory);
        if (RelayDatabaseFactory.UsesPostgres(storage) && !string.IsNullOrEmpty(keys.Pepper))
        {
            return CheckFinding.Pass(Name, "not used (PostgreSQL, RELAY_KEY_PEPPER set)");
        }

        var probe = Path.Combine(directory, $".check-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CheckFinding.Fail(Name, $"{directory} is not writable: {CheckFinding.ReasonOf(e)} (RELAY_DATA_DIR; in the container, the relay-data volume at /data)");
        }

        var free = new DriveInfo(directory).AvailableFreeSpace;
        var freeText = $"{free / (1024 * 1024):N0} MB free";
        return free < LowFreeSpaceBytes
            ? CheckFinding.Warn(Name, $"{directory} is writable but only {freeText}: the ledger grows with every request")
            : CheckFinding.Pass(Name, $"{directory} is writable, {freeText}");
    }

    private async Task<(CheckFinding Finding, int? UsableKeys)> CheckStorageAsync(CancellationToken cancellationToken)
    {
        const string Name = "storage";
        try
        {
            await using var session = await AdminSession.OpenAsync(configuration, time, migrate: true, cancellationToken);
            var now = time.GetUtcNow();
            var usable = (await session.Keys.ListAsync(cancellationToken)).Count(key => key.IsUsableAt(now));
            return (CheckFinding.Pass(Name, $"{session.Database.Description} opens, schema up to date, {usable} usable client key{(usable == 1 ? "" : "s")}"), usable);
        }
        catch (RelayConfigurationException e)
        {
            return (CheckFinding.Fail(Name, string.Join("; ", e.Failures)), null);
        }
        catch (System.Data.Common.DbException e)
        {
            return (CheckFinding.Fail(Name, $"storage error: {CheckFinding.ReasonOf(e)}"), null);
        }
    }

    private static CheckFinding CheckAccess(RelayOptions relay, int? usableKeys)
    {
        const string Name = "access";
        var tokens = relay.Tokens.Distinct(StringComparer.Ordinal).Count();
        var admin = string.IsNullOrEmpty(relay.AdminToken) ? "console off" : "console on (RELAY_ADMIN_TOKEN)";
        if (tokens == 0 && usableKeys == 0)
        {
            return CheckFinding.Warn(Name, $"open relay: no RELAY_TOKEN and no client key, so anyone who reaches the port spends your OpenAI key; create a key (openai-relay keys create NAME) or set RELAY_TOKEN; {admin}");
        }

        var keys = usableKeys is { } n ? $"{n} client key{(n == 1 ? "" : "s")}" : "client keys unknown (storage failed)";
        return CheckFinding.Pass(Name, $"{tokens} shared token{(tokens == 1 ? "" : "s")} (RELAY_TOKEN), {keys}; {admin}");
    }

    private static async Task<CheckFinding> CheckRedisAsync(string url)
    {
        const string Name = "redis";
        if (!RedisUrl.TryParse(url, out var options, out var error))
        {
            return CheckFinding.Fail(Name, error!);
        }

        var where = string.Join(", ", options!.EndPoints.Select(endpoint => endpoint.ToString()));
        options.ConnectTimeout = 5_000;
        options.AbortOnConnectFail = true;
        try
        {
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(options);
            var latency = await redis.GetDatabase().PingAsync();
            return CheckFinding.Pass(Name, $"{where} answers PING in {latency.TotalMilliseconds:F1} ms: limits are shared across instances");
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The relay still serves without Redis, limiting per instance (docs/limits.md); a warning, not a failure.
            return CheckFinding.Warn(Name, $"{where} does not answer ({e.GetType().Name}): the relay runs, but limits are kept per instance until it returns");
        }
    }
}

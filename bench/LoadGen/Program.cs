using System.Net;
using System.Text.Json;
using OpenAiRelay.LoadGen;

// The end-to-end benchmark client (bench/run.sh starts the servers and calls this). Runs every scenario against
// direct, nginx, relay and relay with metering off in turn (and the chat scenarios also through the relay with a
// limited client key), round after round, so drift on a shared machine hits all of them alike.
Options options;
try
{
    options = Options.Parse(args);
}
catch (FormatException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

if (options.ReportOnly)
{
    // Rewrites the report from a previous run's results.jsonl (for example after changing how it is presented).
    var loaded = Report.Load(options.Results);
    Report.Write(options, [.. Target.Order.Where(t => loaded.Any(r => r.Target == t))], loaded);
    Console.WriteLine($"wrote {options.Report} from {options.Results}");
    return 0;
}

var targets = new List<Target>();
foreach (var (name, url) in options.Urls)
{
    var auth = name switch
    {
        "relay" or Target.RelayOff => "Bearer " + options.RelayToken,
        Target.RelayLimited => "Bearer " + options.LimitedToken,
        _ => "Bearer " + options.ApiKey,
    };

    // relay-limited is the relay's own process reached with a limited client key, so it is measured on relay's pids.
    var pids = name switch { "relay" or Target.RelayLimited => options.RelayPids, Target.RelayOff => options.RelayOffPids, "nginx" => options.NginxPids, _ => [] };
    targets.Add(new Target(name, new Uri(url.TrimEnd('/') + "/"), auth, pids));
}

targets.Sort((a, b) => Order(a.Name).CompareTo(Order(b.Name)));
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Results))!);
await using var results = new StreamWriter(options.Results, append: false);

// One client per target and scenario shape, kept for the whole run: connections are warm after the warm-up pass.
var chatClients = targets.ToDictionary(t => t.Name, _ => NewClient(options.Connections));
var sseClients = targets.ToDictionary(t => t.Name, _ => NewClient(options.Streams + 16));
var fileClients = targets.ToDictionary(t => t.Name, _ => NewClient(4));

Console.WriteLine($"warm-up: {string.Join(", ", targets.Select(t => t.Name))}");
foreach (var target in targets)
{
    await RunScenariosAsync(target, warmup: true);
}

var all = new List<(int Round, string Target, Metrics Metrics)>();
for (var round = 1; round <= options.Rounds; round++)
{
    foreach (var scenario in ScenarioOrder.All.Where(options.Scenarios.Contains))
    {
        foreach (var target in targets.Where(t => t.Runs(scenario)))
        {
            var metrics = await RunOneAsync(scenario, target, warmup: false);
            all.Add((round, target.Name, metrics));
            await results.WriteLineAsync(JsonSerializer.Serialize(new { round, target = target.Name, scenario, metrics }));
            await results.FlushAsync();
            Console.WriteLine($"round {round} {scenario,-5} {target.Name,-9} {Summary(metrics)}");
        }
    }
}

if (targets.Any(t => t.Name == Target.RelayLimited))
{
    // What the limits cost, also when no report is written: medians over the interleaved rounds, subtracted.
    foreach (var scenario in Target.LimitedScenarios.Where(options.Scenarios.Contains))
    {
        var key = scenario + ".proxy_cpu_us_per_req";
        double Median(string target) => Stats.Median(all.Where(r => r.Target == target && r.Metrics.ContainsKey(key)).Select(r => r.Metrics[key]));
        var (unlimited, limited) = (Median("relay"), Median(Target.RelayLimited));
        var refused = all.Where(r => r.Target == Target.RelayLimited).Sum(r => r.Metrics.GetValueOrDefault(scenario + ".errors"));
        Console.WriteLine($"limits {scenario,-5} relay {unlimited:0.0} µs CPU/request, relay-limited {limited:0.0} µs: limits cost {limited - unlimited:+0.0;-0.0} µs per request (medians of {options.Rounds} rounds; relay-limited errors {refused})");
    }
}

if (options.Report is not null)
{
    Report.Write(options, targets.Select(t => t.Name).ToList(), all);
    Console.WriteLine($"wrote {options.Report}");
}

return 0;

async Task RunScenariosAsync(Target target, bool warmup)
{
    foreach (var scenario in ScenarioOrder.All.Where(options.Scenarios.Contains).Where(target.Runs))
    {
        var metrics = await RunOneAsync(scenario, target, warmup);
        Console.WriteLine($"warm-up {scenario,-5} {target.Name,-9} {Summary(metrics)}");
    }
}

async Task<Metrics> RunOneAsync(string scenario, Target target, bool warmup)
{
    try
    {
        return scenario switch
        {
            "chat" => await ChatScenario.RunAsync(chatClients[target.Name], target, "chat", options.Connections, warmup ? TimeSpan.FromSeconds(4) : options.Duration),
            "chat1" => await ChatScenario.RunAsync(chatClients[target.Name], target, "chat1", 1, warmup ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3)),
            "sse" => await SseScenario.RunAsync(
                sseClients[target.Name], target, "sse", warmup ? Math.Min(100, options.Streams) : options.Streams, warmup ? 3 : options.Events, options.IntervalMs, TimeSpan.FromSeconds(1)),
            "files" => Merge(
                await FilesScenario.UploadAsync(fileClients[target.Name], target, "upload", warmup ? 8L << 20 : options.FileBytes),
                await FilesScenario.DownloadAsync(fileClients[target.Name], target, "download", warmup ? 8L << 20 : options.FileBytes)),
            "ws" => await RealtimeScenario.RunAsync(target, "ws", warmup ? 50 : options.WsMessages, warmup ? 0 : 20),
            _ => throw new ArgumentException($"Unknown scenario {scenario}"),
        };
    }
    catch (Exception e)
    {
        Console.WriteLine($"{scenario} {target.Name} FAILED: {e.GetType().Name}: {e.Message}");
        return new Metrics { [scenario + ".failed"] = 1 };
    }
}

static Metrics Merge(Metrics a, Metrics b)
{
    foreach (var (k, v) in b)
    {
        a[k] = v;
    }

    return a;
}

static string Summary(Metrics m) => string.Join(" ", m.Select(kv => $"{kv.Key}={kv.Value:0.###}"));

static int Order(string name) => Array.IndexOf(Target.Order, name) is var i and >= 0 ? i : Target.Order.Length;

static HttpClient NewClient(int connections) => new(new SocketsHttpHandler
{
    MaxConnectionsPerServer = connections,
    UseProxy = false,
    UseCookies = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
    ConnectTimeout = TimeSpan.FromSeconds(10),
})
{
    Timeout = Timeout.InfiniteTimeSpan,
};

using System.Globalization;

namespace OpenAiRelay.LoadGen;

/// <summary>Command line of the suite; every value has a default that <c>bench/run.sh</c> overrides where it must.</summary>
internal sealed class Options
{
    public Dictionary<string, string> Urls { get; } = new(StringComparer.Ordinal);

    public string ApiKey { get; private set; } = "sk-bench";

    public string RelayToken { get; private set; } = "rt-bench";

    /// <summary>The client key (<c>rk_live_...</c>) of the <see cref="Target.RelayLimited"/> target.</summary>
    public string? LimitedToken { get; private set; }

    public int[] RelayPids { get; private set; } = [];

    public int[] NginxPids { get; private set; } = [];

    /// <summary>The second relay process, started with metering off (plain forwarding): the baseline for metering's cost.</summary>
    public int[] RelayOffPids { get; private set; } = [];

    public int Rounds { get; private set; } = 5;

    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(10);

    public int Connections { get; private set; } = 64;

    public int Streams { get; private set; } = 1000;

    public int Events { get; private set; } = 10;

    public int IntervalMs { get; private set; } = 200;

    public long FileBytes { get; private set; } = 100L * 1024 * 1024;

    public int WsMessages { get; private set; } = 500;

    public HashSet<string> Scenarios { get; private set; } = ["chat", "chat1", "sse", "files", "ws"];

    public string Results { get; private set; } = "bench/out/results.jsonl";

    public string? Report { get; private set; }

    public string? Machine { get; private set; }

    public string Command { get; private set; } = "bench/run.sh";

    /// <summary>Only rewrite <see cref="Report"/> from <see cref="Results"/>; measure nothing.</summary>
    public bool ReportOnly { get; private set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--report-only")
            {
                o.ReportOnly = true;
                continue;
            }

            var value = i + 1 < args.Length ? args[i + 1] : throw new FormatException($"Missing value after {args[i]}");
            switch (args[i++])
            {
                case "--direct": o.Urls["direct"] = value; break;
                case "--nginx": o.Urls["nginx"] = value; break;
                case "--relay": o.Urls["relay"] = value; break;
                case "--relay-off": o.Urls[Target.RelayOff] = value; break;
                case "--relay-limited": o.Urls[Target.RelayLimited] = value; break;
                case "--limited-token": o.LimitedToken = value; break;
                case "--api-key": o.ApiKey = value; break;
                case "--relay-token": o.RelayToken = value; break;
                case "--relay-pids": o.RelayPids = Pids(value); break;
                case "--nginx-pids": o.NginxPids = Pids(value); break;
                case "--relay-off-pids": o.RelayOffPids = Pids(value); break;
                case "--rounds": o.Rounds = Int(value); break;
                case "--duration": o.Duration = TimeSpan.FromSeconds(Int(value)); break;
                case "--connections": o.Connections = Int(value); break;
                case "--streams": o.Streams = Int(value); break;
                case "--events": o.Events = Int(value); break;
                case "--interval-ms": o.IntervalMs = Int(value); break;
                case "--file-mb": o.FileBytes = Int(value) * 1024L * 1024; break;
                case "--ws-messages": o.WsMessages = Int(value); break;
                case "--scenarios": o.Scenarios = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries)]; break;
                case "--results": o.Results = value; break;
                case "--report": o.Report = value; break;
                case "--machine": o.Machine = value; break;
                case "--command": o.Command = value; break;
                default: throw new FormatException($"Unknown argument {args[i - 1]}");
            }
        }

        if (o.Urls.ContainsKey(Target.RelayLimited) && o.LimitedToken is null)
        {
            throw new FormatException("--relay-limited needs --limited-token");
        }

        return o;
    }

    private static int Int(string value) => int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);

    private static int[] Pids(string value) =>
        [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Int)];
}

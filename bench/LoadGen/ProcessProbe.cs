using System.Globalization;

namespace OpenAiRelay.LoadGen;

/// <summary>
/// Reads CPU time (<c>/proc/PID/stat</c> utime + stime) and resident memory (<c>/proc/PID/status</c> VmRSS) of a set
/// of processes, summed. Used for the proxy under test: the relay, or all nginx workers.
/// </summary>
internal sealed class ProcessProbe(int[] pids)
{
    // USER_HZ: the unit of utime/stime. 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)).
    private const double TicksPerSecond = 100;

    public bool IsEmpty => pids.Length == 0;

    public double CpuSeconds()
    {
        double total = 0;
        foreach (var pid in pids)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            total += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }

        return total / TicksPerSecond;
    }

    public long RssBytes()
    {
        long total = 0;
        foreach (var pid in pids)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    total += long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                    break;
                }
            }
        }

        return total;
    }

    /// <summary>Samples RSS every 10 ms until disposed; <see cref="Peak"/> is the highest sample.</summary>
    public RssSampler StartSampling() => new(this);

    internal sealed class RssSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public RssSampler(ProcessProbe probe)
        {
            Baseline = probe.IsEmpty ? 0 : probe.RssBytes();
            Peak = Baseline;
            _loop = probe.IsEmpty ? Task.CompletedTask : Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
                try
                {
                    while (await timer.WaitForNextTickAsync(_stop.Token))
                    {
                        Peak = Math.Max(Peak, probe.RssBytes());
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
        }

        public long Baseline { get; }

        public long Peak { get; private set; }

        public long Growth => Peak - Baseline;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace OpenAiRelay.LoadGen;

/// <summary>
/// Small non-streaming chat completions from a fixed number of connections, each sending its next request as soon
/// as the previous one completes (closed loop), for a fixed time.
/// </summary>
internal static class ChatScenario
{
    private const int MaxRequestsPerConnection = 1_000_000;
    private const int MaxErrors = 1_000;

    private static readonly byte[] s_body = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}],"temperature":0}""");

    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    public static async Task<Metrics> RunAsync(HttpClient client, Target target, string prefix, int connections, TimeSpan duration)
    {
        var url = target.Url("v1/chat/completions");
        var errors = 0;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var proxyCpu = target.IsProxy ? target.Probe.CpuSeconds() : 0;
        using var bound = new CancellationTokenSource(duration + TimeSpan.FromSeconds(30));
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<double>(4096);
            var buffer = new byte[16 * 1024];
            while (Stopwatch.GetTimestamp() < deadline && latencies.Count < MaxRequestsPerConnection && Volatile.Read(ref errors) < MaxErrors)
            {
                var t0 = Stopwatch.GetTimestamp();
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(s_body) };
                    request.Content.Headers.ContentType = s_json;
                    request.Headers.TryAddWithoutValidation("Authorization", target.Authorization);
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token);
                    await using var body = await response.Content.ReadAsStreamAsync(bound.Token);
                    while (await body.ReadAsync(buffer, bound.Token) > 0)
                    {
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                }
                catch (Exception) when (!bound.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    await Task.Delay(10);
                    continue;
                }

                latencies.Add(Stats.Milliseconds(Stopwatch.GetTimestamp() - t0));
            }

            return latencies;
        })).ToArray();

        var all = (await Task.WhenAll(workers)).SelectMany(l => l).ToList();
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var requests = all.Count;
        var metrics = new Metrics
        {
            [prefix + ".requests"] = requests,
            [prefix + ".errors"] = errors,
            [prefix + ".rps"] = requests / elapsed,
            [prefix + ".p50_ms"] = Stats.Percentile(all, 50),
            [prefix + ".p99_ms"] = Stats.Percentile(all, 99),
            [prefix + ".client_cpu_us_per_req"] = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalMicroseconds / Math.Max(1, requests),
        };
        if (target.IsProxy)
        {
            metrics[prefix + ".proxy_cpu_us_per_req"] = (target.Probe.CpuSeconds() - proxyCpu) * 1e6 / Math.Max(1, requests);
        }

        return metrics;
    }
}

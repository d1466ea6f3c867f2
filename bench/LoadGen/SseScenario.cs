using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace OpenAiRelay.LoadGen;

/// <summary>
/// Many concurrent chat completion streams, each with a fixed number of events a fixed interval apart (the fake's
/// <c>x-fake-events</c> / <c>x-fake-event-interval-ms</c>). Streams start evenly over a ramp shorter than a stream's
/// life, so all of them are open at once at the end of the ramp.
/// </summary>
internal static class SseScenario
{
    private static readonly byte[] s_body = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count from one to twenty, slowly."}]}""");

    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    public static async Task<Metrics> RunAsync(HttpClient client, Target target, string prefix, int streams, int events, int intervalMs, TimeSpan ramp)
    {
        var url = target.Url("v1/chat/completions");
        var open = 0;
        var peakOpen = 0;
        var errors = 0;
        var expectedLife = TimeSpan.FromMilliseconds(events * intervalMs) + ramp;
        using var bound = new CancellationTokenSource(expectedLife + TimeSpan.FromSeconds(60));
        var sampler = target.Probe.StartSampling();
        var results = new Task<(double Ttfe, double MaxGap)?>[streams];
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < streams; i++)
        {
            var due = ramp * i / streams;
            var wait = due - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, bound.Token);
            }

            results[i] = Task.Run(StreamAsync);
        }

        var finished = await Task.WhenAll(results);
        await sampler.DisposeAsync();

        var ttfe = finished.Where(r => r is not null).Select(r => r!.Value.Ttfe).ToList();
        var gaps = finished.Where(r => r is not null).Select(r => r!.Value.MaxGap).ToList();
        var metrics = new Metrics
        {
            [prefix + ".streams"] = streams,
            [prefix + ".completed"] = ttfe.Count,
            [prefix + ".errors"] = errors,
            [prefix + ".peak_concurrent"] = peakOpen,
            [prefix + ".ttfe_p50_ms"] = Stats.Percentile(ttfe, 50),
            [prefix + ".ttfe_p99_ms"] = Stats.Percentile(ttfe, 99),
            [prefix + ".max_gap_p50_ms"] = Stats.Percentile(gaps, 50),
            [prefix + ".max_gap_p99_ms"] = Stats.Percentile(gaps, 99),
            [prefix + ".max_gap_worst_ms"] = gaps.Count == 0 ? double.NaN : gaps.Max(),
        };
        if (target.IsProxy)
        {
            metrics[prefix + ".rss_growth_mb"] = sampler.Growth / 1048576.0;
            metrics[prefix + ".kb_per_stream"] = sampler.Growth / 1024.0 / Math.Max(1, peakOpen);
        }

        return metrics;

        async Task<(double, double)?> StreamAsync()
        {
            var t0 = Stopwatch.GetTimestamp();
            var counted = false;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(s_body) };
                request.Content.Headers.ContentType = s_json;
                request.Headers.TryAddWithoutValidation("Authorization", target.Authorization);
                request.Headers.TryAddWithoutValidation("x-fake-events", events.ToString(System.Globalization.CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("x-fake-event-interval-ms", intervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref errors);
                    return null;
                }

                var now = Interlocked.Increment(ref open);
                counted = true;
                int seen;
                while (now > (seen = Volatile.Read(ref peakOpen)) && Interlocked.CompareExchange(ref peakOpen, now, seen) != seen)
                {
                }

                await using var body = await response.Content.ReadAsStreamAsync(bound.Token);
                using var reader = new StreamReader(body, Encoding.UTF8);
                double ttfe = double.NaN, maxGap = 0;
                long last = 0;
                while (await reader.ReadLineAsync(bound.Token) is { } line)
                {
                    if (!line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var at = Stopwatch.GetTimestamp();
                    if (last == 0)
                    {
                        ttfe = Stats.Milliseconds(at - t0);
                    }
                    else
                    {
                        maxGap = Math.Max(maxGap, Stats.Milliseconds(at - last));
                    }

                    last = at;
                    if (line == "data: [DONE]")
                    {
                        return (ttfe, maxGap);
                    }
                }

                Interlocked.Increment(ref errors);
                return null;
            }
            catch (Exception) when (!bound.IsCancellationRequested)
            {
                Interlocked.Increment(ref errors);
                return null;
            }
            finally
            {
                if (counted)
                {
                    Interlocked.Decrement(ref open);
                }
            }
        }
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;

namespace OpenAiRelay.LoadGen;

/// <summary>One large multipart upload to <c>POST /v1/files</c>, or one large download of a file's content.</summary>
internal static class FilesScenario
{
    public static async Task<Metrics> UploadAsync(HttpClient client, Target target, string prefix, long size)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var content = new MultipartFormDataContent("----openai-relay-bench");
        content.Add(new StringContent("fine-tune"), "purpose");
        var file = new StreamContent(new PatternStream(size), 64 * 1024);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(file, "file", "bench.jsonl");
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url("v1/files")) { Content = content };
        request.Headers.TryAddWithoutValidation("Authorization", target.Authorization);

        var sampler = target.Probe.StartSampling();
        var start = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, bound.Token);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await sampler.DisposeAsync();
        var text = await response.Content.ReadAsStringAsync(bound.Token);
        var ok = response.IsSuccessStatusCode && text.Contains($"\"bytes\":{size}", StringComparison.Ordinal);
        return Result(target, prefix, size, seconds, sampler, ok);
    }

    public static async Task<Metrics> DownloadAsync(HttpClient client, Target target, string prefix, long size)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var request = new HttpRequestMessage(HttpMethod.Get, target.Url($"v1/files/file-size-{size}/content"));
        request.Headers.TryAddWithoutValidation("Authorization", target.Authorization);

        var sampler = target.Probe.StartSampling();
        var start = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token);
        await using var body = await response.Content.ReadAsStreamAsync(bound.Token);
        var buffer = new byte[128 * 1024];
        long received = 0;
        int n;
        while ((n = await body.ReadAsync(buffer, bound.Token)) > 0)
        {
            received += n;
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await sampler.DisposeAsync();
        return Result(target, prefix, size, seconds, sampler, response.IsSuccessStatusCode && received == size);
    }

    private static Metrics Result(Target target, string prefix, long size, double seconds, ProcessProbe.RssSampler sampler, bool ok)
    {
        var metrics = new Metrics
        {
            [prefix + ".mbps"] = size / 1048576.0 / seconds,
            [prefix + ".errors"] = ok ? 0 : 1,
        };
        if (target.IsProxy)
        {
            metrics[prefix + ".rss_growth_mb"] = sampler.Growth / 1048576.0;
        }

        return metrics;
    }
}

using System.Diagnostics;
using System.Net;
using System.Security.Authentication;

namespace OpenAiRelay.Hosting;

/// <summary>
/// <c>openai-relay check --through URL</c>: asks the relay's own health endpoints through whatever stands in front
/// (nginx with the shipped site, another proxy, a CDN), the way a client would, certificate validated. The stream
/// probe (<see cref="StreamProbe"/>) sends its events a quarter second apart; a proxy that buffers
/// (<c>proxy_buffering on</c> with <c>X-Accel-Buffering</c> ignored) or compresses (<c>gzip</c> on
/// <c>text/event-stream</c>) delivers them together at the end, which is what an SDK's stream would suffer.
/// </summary>
internal sealed class FrontCheck(Func<HttpMessageHandler>? handler = null)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The probe's events are sent over a second (<see cref="StreamProbe.Interval"/> apart); arriving within less
    /// than half of that, they were held back somewhere.
    /// </summary>
    public static readonly TimeSpan MinimumSpread = (StreamProbe.Events - 1) * StreamProbe.Interval / 2;

    public async Task<IReadOnlyList<CheckFinding>> RunAsync(Uri through, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(handler?.Invoke() ?? new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, UseProxy = false }, disposeHandler: true)
        {
            Timeout = Timeout,
        };
        var front = await CheckHealthAsync(client, through, cancellationToken);
        return front.Status == CheckStatus.Fail ? [front] : [front, await CheckStreamAsync(client, through, cancellationToken)];
    }

    private static async Task<CheckFinding> CheckHealthAsync(HttpClient client, Uri through, CancellationToken cancellationToken)
    {
        const string Name = "front";
        var url = new Uri(through, "/healthz");
        try
        {
            using var response = await client.GetAsync(url, cancellationToken);
            var via = $"HTTP/{response.Version}{(url.Scheme == Uri.UriSchemeHttps ? ", certificate valid" : "")}";
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return CheckFinding.Fail(Name, $"GET {url} answered {(int)response.StatusCode} ({via}): the front does not reach this relay's /healthz");
            }

            return url.Scheme == Uri.UriSchemeHttps
                ? CheckFinding.Pass(Name, $"GET {url} answered 200 ({via})")
                : CheckFinding.Warn(Name, $"GET {url} answered 200 ({via}) over plain HTTP: clients on the internet should reach the relay over HTTPS");
        }
        catch (HttpRequestException e)
        {
            var tls = e.InnerException is AuthenticationException ? " (the TLS certificate is not valid for this name)" : "";
            return CheckFinding.Fail(Name, $"cannot reach {url}{tls}: {CheckFinding.ReasonOf(e)}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckFinding.Fail(Name, $"GET {url} did not answer within {Timeout.TotalSeconds:F0} s");
        }
    }

    private static async Task<CheckFinding> CheckStreamAsync(HttpClient client, Uri through, CancellationToken cancellationToken)
    {
        const string Name = "front streaming";
        var url = new Uri(through, StreamProbe.Path);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        // What SDKs and browsers send: a proxy that compresses does it here.
        request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br");
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return CheckFinding.Fail(Name, $"GET {url} answered {(int)response.StatusCode}: an older relay, or the front does not pass {StreamProbe.Path}");
            }

            if (response.Content.Headers.ContentEncoding.Count > 0)
            {
                return CheckFinding.Fail(Name, $"the stream arrived compressed ({string.Join(", ", response.Content.Headers.ContentEncoding)}): compression holds events back until a block fills; turn gzip off for the relay (the shipped nginx site has gzip off)");
            }

            var arrivals = new List<TimeSpan>();
            var started = Stopwatch.GetTimestamp();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("data: {", StringComparison.Ordinal))
                {
                    arrivals.Add(Stopwatch.GetElapsedTime(started));
                }
            }

            if (arrivals.Count != StreamProbe.Events)
            {
                return CheckFinding.Fail(Name, $"{arrivals.Count} of {StreamProbe.Events} events arrived: the front cut the stream");
            }

            var spread = arrivals[^1] - arrivals[0];
            var sent = (StreamProbe.Events - 1) * StreamProbe.Interval;
            return spread < MinimumSpread
                ? CheckFinding.Fail(Name, $"buffered: {StreamProbe.Events} events sent over {sent.TotalMilliseconds:F0} ms arrived within {spread.TotalMilliseconds:F0} ms, so clients see streams in one piece at the end; the front must not buffer responses (nginx: proxy_buffering off, or honour X-Accel-Buffering; the shipped site does)")
                : CheckFinding.Pass(Name, $"{StreamProbe.Events} events sent over {sent.TotalMilliseconds:F0} ms arrived over {spread.TotalMilliseconds:F0} ms, uncompressed: streams pass unbuffered");
        }
        catch (HttpRequestException e)
        {
            return CheckFinding.Fail(Name, $"GET {url} failed: {CheckFinding.ReasonOf(e)}");
        }
        catch (IOException e)
        {
            return CheckFinding.Fail(Name, $"the stream broke off: {CheckFinding.ReasonOf(e)}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckFinding.Fail(Name, $"GET {url} did not finish within {Timeout.TotalSeconds:F0} s");
        }
    }
}

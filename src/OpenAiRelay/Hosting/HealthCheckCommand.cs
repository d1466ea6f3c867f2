using System.Net;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Hosting;

/// <summary>
/// <c>openai-relay healthcheck</c>: exits 0 when the local relay answers <c>/healthz</c>. The container image has
/// no curl, so its HEALTHCHECK runs this.
/// </summary>
internal static class HealthCheckCommand
{
    public static async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        // The server's configuration, read the server's way: the port the relay listens on is the port checked.
        var listen = RelayConfiguration.Load([]).GetSection(ListenerOptions.Section).Get<ListenerOptions>() ?? new ListenerOptions();
        var address = IPAddress.TryParse(listen.BindAddress, out var parsed) && !parsed.Equals(IPAddress.Any) && !parsed.Equals(IPAddress.IPv6Any)
            ? parsed
            : IPAddress.Loopback;
        var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await client.GetAsync(new Uri($"http://{host}:{listen.Port}/healthz"), cancellationToken);
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (HttpRequestException)
        {
            return 1;
        }
        catch (TaskCanceledException)
        {
            return 1;
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// A reasoning model can send nothing for minutes. nginx's default proxy_read_timeout (60 s) would answer 504 while
/// the upstream keeps generating; the site raises it. Takes about 65 s, so it has a class (and a stack) of its own
/// and runs in parallel with the other deployment tests.
/// </summary>
public sealed class NginxReadTimeoutTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    private const int SilenceMs = 65_000;

    [Fact]
    public async Task UpstreamSilentLongerThanNginxsDefaultReadTimeout_RequestStillCompletes()
    {
        using var client = stack.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"o3","messages":[{"role":"user","content":"think hard"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-delay-ms", SilenceMs.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request).WaitAsync(TimeSpan.FromMilliseconds(SilenceMs) + TaskTimeouts.Default);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} after {clock.Elapsed.TotalSeconds:F0} s: {body}");
        Assert.True(clock.ElapsedMilliseconds >= SilenceMs - 1000, "the upstream was not silent for as long as intended");
        Assert.Equal("chat.completion", JsonDocument.Parse(body).RootElement.GetProperty("object").GetString());
    }
}

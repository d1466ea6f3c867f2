using System.Net;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>The guide's checks (docs/deploy.md, step 6) over HTTPS through the shipped nginx site.</summary>
public sealed class NginxHttpsTests(NginxRelayStack stack) : IClassFixture<NginxRelayStack>
{
    [Fact]
    public async Task ModelsAndChat_WithRelayToken_SucceedThroughNginx()
    {
        using var client = stack.CreateClient();
        using var models = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Equal("list", JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement.GetProperty("object").GetString());
        Assert.True(models.Headers.Contains("x-relay-request-id"), "the answer did not come through the relay");

        using var chat = await client.PostAsync(
            new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Привет! Сколько будет 2+2?"}],"temperature":0}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal("chat.completion", JsonDocument.Parse(await chat.Content.ReadAsStringAsync()).RootElement.GetProperty("object").GetString());

        var seen = await stack.Fake.WaitForEndAsync(r => r.Path == "/v1/chat/completions" && r.BodyText?.Contains("2+2", StringComparison.Ordinal) == true, TaskTimeouts.Default);
        Assert.Equal("Bearer " + RelayServer.UpstreamKeyCanary, seen.Headers["Authorization"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    public async Task WithoutAValidToken_GetsTheRelays401Json_AndUpstreamSeesNothing(string? token)
    {
        var path = "v1/models/unauthorized-" + Guid.NewGuid().ToString("N");
        using var client = stack.CreateClient(token);
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative)).DefaultTimeout();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal("Rejected", (await stack.WaitForRequestLogAsync("/" + path)).Single().GetProperty("Outcome").GetString());
        Assert.DoesNotContain(stack.Fake.Requests, r => r.Path == "/" + path);
    }

    [Fact]
    public async Task PlainHttp_RedirectsToHttps_AndNeverReachesTheRelay()
    {
        var path = "/v1/models/plain-http-" + Guid.NewGuid().ToString("N");
        using var client = new HttpClient(stack.CreateHandler()) { BaseAddress = new Uri($"http://{NginxRelayStack.HostName}:{stack.Nginx.HttpPort}/") };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RelayServer.ClientToken);
        using var response = await client.GetAsync(new Uri(path + "?x=1", UriKind.Relative)).DefaultTimeout();

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal(new Uri($"https://{NginxRelayStack.HostName}{path}?x=1"), response.Headers.Location);

        // certbot's webroot is served, not redirected (the file does not exist here: 404 from nginx itself).
        using var challenge = await client.GetAsync(new Uri("/.well-known/acme-challenge/token-" + Guid.NewGuid().ToString("N"), UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, challenge.StatusCode);

        await Task.Delay(200);
        Assert.DoesNotContain(stack.RequestLog(), l => l.GetProperty("Path").GetString() == path);
    }

    [Fact]
    public async Task JsonResponse_IsNotCompressedByNginx_EvenWithGzipOnForTheServer()
    {
        // The wrapper nginx.conf turns gzip on for application/json (as admins often do); the site's `gzip off` must win.
        using var client = stack.CreateClient();
        // A metered request: the relay asks the upstream for identity, so any encoding here would be nginx's own.
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal("chat.completion", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("object").GetString());
    }

    [Fact]
    public async Task Http2ToNginx_IsServedOverTheHttp11HopToTheRelay()
    {
        using var client = stack.CreateClient(version: HttpVersion.Version20);
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
    }
}

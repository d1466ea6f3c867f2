using System.Net;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class AuthenticationTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    public static TheoryData<string?> BadAuthorizations => new()
    {
        null,
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Bearer ",
        "Bearer  " + RelayServer.ClientToken,
        "Bearer wrong-token",
        "Bearer " + RelayServer.ClientToken[..^1],
        "Bearer " + RelayServer.ClientToken + "x",
        "Bearer ' OR '1'='1",
        "Bearer " + new string('a', 4 * 1024),
        "Bearer " + RelayServer.UpstreamKeyCanary,
    };

    [Theory]
    [MemberData(nameof(BadAuthorizations))]
    public async Task MissingOrWrongToken_Gets401JsonAndUpstreamSeesNothing(string? authorization)
    {
        using var client = fixture.Relay.CreateClient(token: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        var before = fixture.Fake.Requests.Count;
        using var response = await client.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("false", response.Headers.GetValues("x-should-retry").Single());
        Assert.StartsWith("application/json", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Secrets.AssertAbsent(body + response.Headers, "a 401 response");
        Assert.Equal(before, fixture.Fake.Requests.Count);
    }

    [Theory]
    [InlineData("Bearer " + RelayServer.ClientToken)]
    [InlineData("bearer " + RelayServer.ClientToken)]
    [InlineData("Bearer " + RelayServer.SecondClientToken)]
    public async Task EveryConfiguredToken_IsAccepted_SchemeCaseInsensitive(string authorization)
    {
        using var client = fixture.Relay.CreateClient(token: null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task NoTokenConfigured_RelayIsOpenAndSaysSoLoudly()
    {
        await using var relay = await RelayServer.StartAsync(
            fixture.Fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:Tokens"] = "" });
        using var client = relay.CreateClient(token: null);
        using var response = await client.GetAsync(new Uri("v1/models", UriKind.Relative)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(relay.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("anyone who can reach", StringComparison.Ordinal));
    }
}

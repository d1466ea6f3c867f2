using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.AdminConsole;

/// <summary>
/// The console's sign-in on a real relay: a session cookie that no script can read and no other site can send, an
/// anti-forgery token on every change, sign-out that ends the session on the server, failed sign-ins throttled like
/// failed tokens, nothing of the application served without a session, the strict headers on every /admin answer,
/// and no secret in any of it.
/// </summary>
public sealed class ConsoleSessionTests : IAsyncLifetime
{
    private const string AdminToken = "adm-canary-CONSOLE-7c1e9d3b5a2f4e68";
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task SignIn_GivesAnHttpOnlyStrictCookieAndACsrfToken_TheSessionReadsTheApi_AndSignOutEndsItOnTheServer()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);
        using var signIn = await browser.PostAsync(new Uri("admin/session", UriKind.Relative), SignInBody(AdminToken)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("relay_admin=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/admin", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("max-age=43200", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase); // plain http here; see the https test
        var sessionId = cookie["relay_admin=".Length..cookie.IndexOf(';', StringComparison.Ordinal)];
        Assert.Equal(43, sessionId.Length); // 32 random bytes, base64url
        Assert.DoesNotContain(AdminToken, cookie, StringComparison.Ordinal);
        using var session = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync());
        var csrf = session.RootElement.GetProperty("csrf_token").GetString()!;
        Assert.Equal(43, csrf.Length);
        Assert.Equal(1800, session.RootElement.GetProperty("idle_timeout_seconds").GetInt32());

        // The cookie alone reads; a change needs the CSRF header too.
        using (var keys = await browser.SendAsync(Get("admin/keys", sessionId)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        }

        using (var again = await browser.SendAsync(Get("admin/session", sessionId)).DefaultTimeout())
        {
            Assert.Equal(csrf, JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf_token").GetString());
        }

        using (var create = await browser.SendAsync(Post("admin/keys", sessionId, """{"name":"from-console"}""", csrf)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        using (var signOut = await browser.SendAsync(WithCsrf(new HttpRequestMessage(HttpMethod.Delete, "admin/session"), sessionId, csrf)).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
            Assert.Contains("max-age=0", Assert.Single(signOut.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
        }

        // The old cookie, replayed as if the browser had kept it, opens nothing: the session is gone on the server.
        using var after = await browser.SendAsync(Get("admin/keys", sessionId)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        using var afterSession = await browser.SendAsync(Get("admin/session", sessionId)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, afterSession.StatusCode);
    }

    [Fact]
    public async Task Changes_WithoutTheRightCsrfToken_OrFromAnotherSite_AreRefused_AndChangeNothing()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);
        var (sessionId, csrf) = await SignInAsync(browser);

        var forged = new List<HttpRequestMessage>
        {
            Post("admin/keys", sessionId, """{"name":"forged-1"}""", csrf: null),
            Post("admin/keys", sessionId, """{"name":"forged-2"}""", csrf: "wrong-" + csrf[6..]),
            WithHeader(Post("admin/keys", sessionId, """{"name":"forged-3"}""", csrf), "Origin", "https://evil.example"),
            WithHeader(Post("admin/keys", sessionId, """{"name":"forged-4"}""", csrf), "Sec-Fetch-Site", "cross-site"),
            // What a cross-site HTML form can send: the cookie (were SameSite absent), a urlencoded body, no custom header.
            FormPost("admin/keys", sessionId, "name=forged-5"),
            WithCsrf(new HttpRequestMessage(HttpMethod.Delete, "admin/keys/from-admin"), sessionId, csrf: null),
        };
        foreach (var request in forged)
        {
            using (request)
            using (var response = await browser.SendAsync(request).DefaultTimeout())
            {
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Assert.Equal("csrf_failed", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            }
        }

        using var admin = relay.CreateClient(AdminToken);
        var names = JsonDocument.Parse(await admin.GetStringAsync(new Uri("admin/keys", UriKind.Relative))).RootElement.GetProperty("data")
            .EnumerateArray().Select(k => k.GetProperty("name").GetString()).ToArray();
        Assert.DoesNotContain(names, n => n!.StartsWith("forged", StringComparison.Ordinal));

        // A cross-site sign-in (login CSRF) and a form-encoded one are refused before the token is looked at.
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "admin/session") { Content = SignInBody(AdminToken) };
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.SendAsync(crossSite).DefaultTimeout()).StatusCode);
        using var form = new HttpRequestMessage(HttpMethod.Post, "admin/session") { Content = new FormUrlEncodedContent([new("token", AdminToken)]) };
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await browser.SendAsync(form).DefaultTimeout()).StatusCode);
    }

    [Fact]
    public async Task FailedSignIns_AreThrottledPerAddress_AndAThrottledAddressCannotSignInWithTheRightToken()
    {
        await using var relay = await StartAsync(new() { ["Relay:Limits:FailedAuthPerMinute"] = "3" });
        using var browser = Browser(relay);
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await browser.PostAsync(new Uri("admin/session", UriKind.Relative), SignInBody("wrong-" + i)).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.False(wrong.Headers.Contains("Set-Cookie"));
        }

        using var over = await browser.PostAsync(new Uri("admin/session", UriKind.Relative), SignInBody("wrong-3")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        Assert.True(over.Headers.Contains("Retry-After"));
        using var right = await browser.PostAsync(new Uri("admin/session", UriKind.Relative), SignInBody(AdminToken)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.False(right.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task WithoutASession_NoPartOfTheApplicationIsServed_OnlyTheSignInPage()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);

        using (var page = await browser.SendAsync(Html("admin/")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.Equal("/admin/login", page.Headers.Location!.OriginalString);
        }

        using (var bare = await browser.SendAsync(Html("admin")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
            Assert.Equal("/admin/", bare.Headers.Location!.OriginalString);
        }

        foreach (var path in new[] { "admin/assets/app.js", "admin/assets/api.js", "admin/assets/vendor/uPlot.iife.min.js", "admin/keys", "admin/usage/series", "admin/usage/stats", "admin/usage/rows", "admin/live", "admin/session" })
        {
            using var response = await browser.GetAsync(new Uri(path, UriKind.Relative)).DefaultTimeout();
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {response.StatusCode}");
        }

        // A forged cookie is no session either.
        using (var forged = await browser.SendAsync(Get("admin/assets/app.js", new string('A', 43))).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        foreach (var path in new[] { "admin/login", "admin/assets/login.js", "admin/assets/i18n.js", "admin/assets/console.css", "admin/assets/favicon.svg" })
        {
            using var response = await browser.GetAsync(new Uri(path, UriKind.Relative)).DefaultTimeout();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        }

        using var missing = await browser.GetAsync(new Uri("admin/assets/../../appsettings.json", UriKind.Relative)).DefaultTimeout();
        Assert.NotEqual(HttpStatusCode.OK, missing.StatusCode);
    }

    [Fact]
    public async Task EveryAdminAnswer_CarriesTheStrictHeaders_AndFilesAreServedWithTheirTypeAndETag()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);
        var (sessionId, _) = await SignInAsync(browser);

        var answers = new List<HttpResponseMessage>
        {
            await browser.SendAsync(Get("admin/", sessionId)),
            await browser.SendAsync(Get("admin/assets/app.js", sessionId)),
            await browser.GetAsync(new Uri("admin/login", UriKind.Relative)),
            await browser.SendAsync(Get("admin/keys", sessionId)),
            await browser.SendAsync(Get("admin/live", sessionId)),
            await browser.GetAsync(new Uri("admin/keys", UriKind.Relative)), // 401
            await browser.SendAsync(Get("admin/assets/nothing-here.js", sessionId)), // 404
        };
        foreach (var answer in answers)
        {
            using (answer)
            {
                var where = answer.RequestMessage!.RequestUri + " " + answer.StatusCode;
                Assert.True(answer.Headers.TryGetValues("Content-Security-Policy", out var csp), where);
                var policy = Assert.Single(csp);
                Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
                Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
                Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
                Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
                Assert.Equal("nosniff", answer.Headers.GetValues("X-Content-Type-Options").Single());
                Assert.Equal("DENY", answer.Headers.GetValues("X-Frame-Options").Single());
                Assert.Equal("no-referrer", answer.Headers.GetValues("Referrer-Policy").Single());
            }
        }

        using var script = await browser.SendAsync(Get("admin/assets/app.js", sessionId));
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        Assert.Equal("utf-8", script.Content.Headers.ContentType.CharSet);
        var etag = script.Headers.ETag!;
        Assert.False(etag.IsWeak);
        using var revalidate = Get("admin/assets/app.js", sessionId);
        revalidate.Headers.IfNoneMatch.Add(etag);
        using var notModified = await browser.SendAsync(revalidate);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // The pages are the ones the repository holds, byte for byte.
        using var index = await browser.SendAsync(Get("admin/", sessionId));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(RepositoryPaths.Root, "src/OpenAiRelay/AdminConsole/wwwroot/index.html")), await index.Content.ReadAsByteArrayAsync());
        Assert.Equal("no-store", index.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task BehindATrustedProxyOverHttps_TheCookieIsSecure()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);
        using var request = new HttpRequestMessage(HttpMethod.Post, "admin/session") { Content = SignInBody(AdminToken) };
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        using var response = await browser.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("secure", Assert.Single(response.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task NoSecret_AppearsInAnyConsoleAnswer()
    {
        await using var relay = await StartAsync();
        using var browser = Browser(relay);
        var (sessionId, csrf) = await SignInAsync(browser);
        string secret;
        using (var create = await browser.SendAsync(Post("admin/keys", sessionId, """{"name":"shown-once"}""", csrf)).DefaultTimeout())
        {
            secret = JsonDocument.Parse(await create.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
        }

        using (var client = relay.CreateClient(secret))
        {
            await client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        }

        var everything = new StringBuilder();
        var paths = new[] { "admin/", "admin/login", "admin/session", "admin/keys", "admin/usage", "admin/usage/series?by=key", "admin/usage/stats", "admin/usage/rows", "admin/usage/rows?format=csv", "admin/live", "admin/audit" }
            .Concat(relay.Services.GetRequiredService<OpenAiRelay.AdminConsole.ConsoleAssets>().Paths.Select(p => "admin/" + (p == "index.html" ? string.Empty : p == "login.html" ? "login" : p)));
        foreach (var path in paths)
        {
            using var response = await browser.SendAsync(Get(path, sessionId)).DefaultTimeout();
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            everything.Append(response.Headers).Append(response.Content.Headers).Append(await response.Content.ReadAsStringAsync());
        }

        var text = everything.ToString();
        Assert.DoesNotContain(AdminToken, text, StringComparison.Ordinal);
        Assert.DoesNotContain(RelayServer.UpstreamKeyCanary, text, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[^20..], text, StringComparison.Ordinal);
    }

    private Task<RelayServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken };
        foreach (var (key, value) in settings ?? [])
        {
            values[key] = value;
        }

        return RelayServer.StartAsync(_fake.BaseAddress.ToString().TrimEnd('/'), values);
    }

    /// <summary>A client that keeps no cookies by itself: each test sends the session cookie it means to send.</summary>
    private static HttpClient Browser(RelayServer relay) =>
        new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = relay.BaseAddress };

    private static async Task<(string SessionId, string Csrf)> SignInAsync(HttpClient browser)
    {
        using var response = await browser.PostAsync(new Uri("admin/session", UriKind.Relative), SignInBody(AdminToken)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookie = response.Headers.GetValues("Set-Cookie").Single();
        var csrf = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf_token").GetString()!;
        return (cookie["relay_admin=".Length..cookie.IndexOf(';', StringComparison.Ordinal)], csrf);
    }

    private static StringContent SignInBody(string token) => new(JsonSerializer.Serialize(new { token }), Encoding.UTF8, "application/json");

    private static HttpRequestMessage Get(string path, string sessionId) => WithCookie(new HttpRequestMessage(HttpMethod.Get, path), sessionId);

    private static HttpRequestMessage Html(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        return request;
    }

    private static HttpRequestMessage Post(string path, string sessionId, string json, string? csrf) =>
        WithCsrf(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, sessionId, csrf);

    private static HttpRequestMessage FormPost(string path, string sessionId, string form) =>
        WithCookie(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded") }, sessionId);

    private static HttpRequestMessage WithCsrf(HttpRequestMessage request, string sessionId, string? csrf)
    {
        WithCookie(request, sessionId);
        if (csrf is not null)
        {
            request.Headers.Add("X-Relay-CSRF", csrf);
        }

        return request;
    }

    private static HttpRequestMessage WithCookie(HttpRequestMessage request, string sessionId)
    {
        request.Headers.Add("Cookie", "relay_admin=" + sessionId);
        return request;
    }

    private static HttpRequestMessage WithHeader(HttpRequestMessage request, string name, string value)
    {
        request.Headers.Add(name, value);
        return request;
    }
}

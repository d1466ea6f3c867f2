using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FakeOpenAi;
using Microsoft.Playwright;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.AdminConsole.Browser;

/// <summary>
/// A real relay (with an admin token, so the console is on) in front of the fake upstream, traffic sent through it,
/// and browser pages on it that record every CSP violation, uncaught error and JavaScript dialog.
/// </summary>
internal sealed class ConsoleSite : IAsyncDisposable
{
    public const string AdminToken = "admin-token-for-console-tests-0123456789";

    /// <summary>1,000 input and 1,000 output tokens: 750 micro-dollars on gpt-4o-mini.</summary>
    public const string ThousandEach = """{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}""";

    private ConsoleSite(FakeOpenAiServer fake, RelayServer relay)
    {
        Fake = fake;
        Relay = relay;
    }

    public FakeOpenAiServer Fake { get; }

    public RelayServer Relay { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress => Relay.BaseAddress;

    public static async Task<ConsoleSite> StartAsync()
    {
        var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });
        var relay = await RelayServer.StartAsync(fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken });
        return new ConsoleSite(fake, relay);
    }

    public HttpClient AdminClient() => Relay.CreateClient(AdminToken);

    /// <summary>Creates a key through the admin API (bearer token): its secret and key id.</summary>
    public async Task<(string Secret, string KeyId)> CreateKeyAsync(object body)
    {
        using var admin = AdminClient();
        using var response = await admin.PostAsJsonAsync("admin/keys", body).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        using var created = JsonDocument.Parse(text);
        return (created.RootElement.GetProperty("key").GetString()!, created.RootElement.GetProperty("key_id").GetString()!);
    }

    /// <summary>A chat completion through the relay, the fake reporting <paramref name="usage"/>; returns the status.</summary>
    public async Task<HttpStatusCode> ChatAsync(string key, string model, string? usage = ThousandEach, IDictionary<string, string>? headers = null)
    {
        using var client = Relay.CreateClient(key);
        using var request = ChatRequest(model, usage, headers);
        using var response = await client.SendAsync(request).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode;
    }

    /// <summary>A request the fake upstream holds until <paramref name="cancel"/>: something for the live page to show.</summary>
    public async Task<Task> StartSlowChatAsync(string key, string model, CancellationToken cancel)
    {
        var test = Guid.NewGuid().ToString("N");
        var client = Relay.CreateClient(key);
        var request = ChatRequest(model, null, new Dictionary<string, string> { ["x-fake-delay-ms"] = "60000", ["x-test-id"] = test });
        var sending = Task.Run(async () =>
        {
            try
            {
                using var response = await client.SendAsync(request, cancel);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                request.Dispose();
                client.Dispose();
            }
        }, CancellationToken.None);
        await Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == test, TimeSpan.FromSeconds(15));
        return sending;
    }

    private static HttpRequestMessage ChatRequest(string model, string? usage, IDictionary<string, string>? headers)
    {
        var body = JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = "hi" } } });
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (usage is not null)
        {
            request.Headers.Add("x-fake-usage", usage);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        return request;
    }

    /// <summary>GET an admin API path with the bearer token, as JSON.</summary>
    public async Task<JsonElement> AdminGetAsync(string path)
    {
        using var admin = AdminClient();
        using var response = await admin.GetAsync(path).DefaultTimeout();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Waits until the ledger holds <paramref name="requests"/> rows in all (the writer batches them).</summary>
    public async Task WaitForLedgerAsync(int requests)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var usage = await AdminGetAsync("admin/usage?since=2000-01-01");
            var counted = usage.GetProperty("data").EnumerateArray().Sum(r => r.GetProperty("requests").GetInt32());
            if (counted >= requests)
            {
                Assert.Equal(requests, counted);
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the ledger holds {counted} rows, not {requests}");
            await Task.Delay(100);
        }
    }

    /// <summary>The settled spend of a key in its budget period, by the keys API, once it reaches <paramref name="atLeast"/>.</summary>
    public async Task WaitForSpendAsync(string keyId, decimal atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var keys = await AdminGetAsync("admin/keys");
            var key = keys.GetProperty("data").EnumerateArray().Single(k => k.GetProperty("key_id").GetString() == keyId);
            var spent = key.TryGetProperty("spend", out var spend) ? spend.GetProperty("spent_usd").GetDecimal() : 0m;
            if (spent >= atLeast)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the key has spent {spent}, not {atLeast}");
            await Task.Delay(100);
        }
    }

    public async Task<ConsolePage> OpenAsync(BrowserFixture browser, string locale = "en-US", int width = 1366, int height = 900)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = locale,
            TimezoneId = "Europe/Berlin",
            ColorScheme = ColorScheme.Light,
            // 127.0.0.1 is a secure context, so the copy button uses navigator.clipboard; the test reads it back.
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        context.SetDefaultTimeout(30_000);
        context.SetDefaultNavigationTimeout(30_000);
        var page = await context.NewPageAsync();
        return new ConsolePage(context, page, BaseAddress);
    }

    public async ValueTask DisposeAsync()
    {
        await Relay.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

/// <summary>A browser page on the console, with what it reported: CSP violations, uncaught errors, dialogs.</summary>
internal sealed class ConsolePage : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _dialogs = new();

    public ConsolePage(IBrowserContext context, IPage page, Uri baseAddress)
    {
        Context = context;
        Page = page;
        BaseAddress = baseAddress;
        page.Console += (_, message) =>
        {
            // Chromium reports every blocked script, style, image or connection as a console error naming the policy.
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                _violations.Enqueue($"{page.Url}: {message.Text}");
            }
        };
        page.PageError += (_, error) => _errors.Enqueue($"{page.Url}: {error}");
        page.Dialog += async (_, dialog) =>
        {
            _dialogs.Enqueue($"{page.Url}: {dialog.Type} {dialog.Message}");
            await dialog.DismissAsync();
        };
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public Uri BaseAddress { get; }

    public IReadOnlyCollection<string> CspViolations => _violations;

    public IReadOnlyCollection<string> Errors => _errors;

    public IReadOnlyCollection<string> Dialogs => _dialogs;

    /// <summary>Signs in on /admin/login with the admin token and waits for the overview.</summary>
    public async Task SignInAsync(string token = ConsoleSite.AdminToken)
    {
        await Page.GotoAsync("admin/login");
        await Page.Locator("#token").FillAsync(token);
        await Page.Locator("#login-submit").ClickAsync();
        await Page.WaitForURLAsync("**/admin/#/overview**");
        await Loaded("overview");
    }

    /// <summary>Goes to a hash route of the console and waits until its page has loaded its data.</summary>
    public async Task GoAsync(string route)
    {
        await Page.GotoAsync("admin/#/" + route);
        await Loaded(route.Split('?')[0]);
    }

    /// <summary>Waits for the page to finish loading: each page marks #view with data-loaded when its data is drawn.</summary>
    public Task Loaded(string page) =>
        Assertions.Expect(Page.Locator($"#view[data-page='{page}'][data-loaded]")).ToBeAttachedAsync(new() { Timeout = 20_000 });

    /// <summary>Saves a full-page screenshot as artifacts/console/<paramref name="name"/>.png.</summary>
    public async Task ScreenshotAsync(string name)
    {
        var directory = Path.Combine(RepositoryPaths.Root, "artifacts", "console");
        Directory.CreateDirectory(directory);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = true, Animations = ScreenshotAnimations.Disabled });
    }

    /// <summary>Nothing went wrong in the browser: no CSP violation, no uncaught error, no dialog.</summary>
    public void AssertClean()
    {
        Assert.True(_violations.IsEmpty, "CSP violations:\n" + string.Join('\n', _violations));
        Assert.True(_errors.IsEmpty, "uncaught errors:\n" + string.Join('\n', _errors));
        Assert.True(_dialogs.IsEmpty, "dialogs:\n" + string.Join('\n', _dialogs));
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}

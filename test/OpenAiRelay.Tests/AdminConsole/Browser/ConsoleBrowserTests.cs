using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpenAiRelay.Authentication;
using OpenAiRelay.Storage;
using static Microsoft.Playwright.Assertions;

namespace OpenAiRelay.Tests.AdminConsole.Browser;

/// <summary>
/// Every page of the console in Debian's chromium: screenshots at desktop size and at 390 px (artifacts/console/),
/// no Content-Security-Policy violation anywhere, hostile key and model names shown as text, and the Russian
/// interface for a Russian browser.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleBrowserTests(BrowserFixture browser)
{
    private static readonly string[] Pages = ["overview", "keys", "usage", "live"];

    static ConsoleBrowserTests() => SetDefaultExpectTimeout(15_000);

    [Fact]
    public async Task EveryPage_AtDesktopSizeAnd390px_IsScreenshotted_WithoutACspViolation()
    {
        await using var site = await ConsoleSite.StartAsync();
        var alice = await SeedAsync(site);
        await site.CreateKeyAsync(new { name = "ci-pipeline", rpm = 600, tpm = 200_000, max_concurrent = 4, endpoints = new[] { "/v1/chat", "/v1/responses" }, budget_usd = 5, budget_period = "day" });
        await site.CreateKeyAsync(new { name = "mobile-app", expires_in = "30d", models = new[] { "gpt-4o-mini*" }, budget_usd = 0.0025m, budget_period = "month" });
        using var cancel = new CancellationTokenSource();
        var slow = await site.StartSlowChatAsync(alice, "gpt-4o-mini", cancel.Token);

        foreach (var (size, width, height) in new[] { ("desktop", 1366, 900), ("390", 390, 844) })
        {
            await using var console = await site.OpenAsync(browser, width: width, height: height);
            await console.Page.GotoAsync("admin/login");
            await Expect(console.Page.Locator("#login-title")).ToHaveTextAsync("Sign in");
            await console.ScreenshotAsync($"login-{size}");
            await console.SignInAsync();
            foreach (var name in Pages)
            {
                await console.GoAsync(name);
                if (name == "live")
                {
                    await Expect(console.Page.Locator("[data-live='in-flight']")).ToHaveTextAsync("1");
                }

                await Expect(console.Page.Locator("#view h1")).ToBeVisibleAsync();
                Assert.True(await NoHorizontalPageScrollAsync(console.Page), $"{name} at {width} px scrolls sideways (only tables may)");
                await console.ScreenshotAsync($"{name}-{size}");
            }

            if (size == "390")
            {
                // The navigation collapses into a menu button.
                await Expect(console.Page.Locator("#nav a[data-route='/keys']")).ToBeHiddenAsync();
                await console.Page.Locator("#nav-toggle").ClickAsync();
                await console.Page.Locator("#nav a[data-route='/keys']").ClickAsync();
                await console.Loaded("keys");
                await Expect(console.Page.Locator("#nav a[data-route='/keys']")).ToBeHiddenAsync();
            }

            console.AssertClean();
        }

        // The listener does hear a violation: an inline style attribute is refused and reported.
        await using (var canary = await site.OpenAsync(browser))
        {
            await canary.SignInAsync();
            await canary.Page.EvaluateAsync("() => { const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.append(d); }");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (canary.CspViolations.Count == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.NotEmpty(canary.CspViolations);
        }

        await cancel.CancelAsync();
        await slow;
    }

    [Fact]
    public async Task HostileKeyAndModelNames_AreRenderedAsText_OnEveryPage()
    {
        await using var site = await ConsoleSite.StartAsync();
        // The API refuses such a name (KeyNames), so the row is written straight into the store: the console must be
        // safe even for a name that got in by another way (an older version, a hand-edited database).
        const string keyName = "<img src=x onerror=alert(1)>";
        const string model = "\"><svg onload=alert(2)><b id=pwned>gpt</b><script>alert(3)</script>";
        var (keyId, token) = ClientKeyToken.Generate();
        var pepper = site.Relay.Services.GetRequiredService<KeyPepper>();
        await site.Relay.Services.GetRequiredService<ClientKeyStore>().CreateAsync(
            new StoredClientKey(keyId, keyName, ClientKeyToken.Hash(pepper.Key, token), DateTimeOffset.UtcNow, null, null), CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, await site.ChatAsync(token, model));
        await site.WaitForLedgerAsync(1);
        using var cancel = new CancellationTokenSource();
        var slow = await site.StartSlowChatAsync(token, model, cancel.Token);

        await using var console = await site.OpenAsync(browser);
        var page = console.Page;
        await console.SignInAsync();
        await Expect(page.Locator(".top-table").First).ToContainTextAsync(keyName);
        await Expect(page.Locator(".top-table").Last).ToContainTextAsync(model);
        await AssertInertAsync(page);
        foreach (var split in new[] { "Key", "Model" })
        {
            await page.GetByRole(AriaRole.Button, new() { Name = split, Exact = true }).ClickAsync();
            await Expect(page.Locator("[data-chart='requests'] .u-legend")).ToContainTextAsync(split == "Key" ? keyName : model);
            await AssertInertAsync(page);
        }

        await console.GoAsync("keys");
        await Expect(page.Locator(".key-name")).ToHaveTextAsync(keyName);
        await AssertInertAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(page.Locator("dialog.dialog h2")).ToHaveTextAsync($"Revoke “{keyName}”?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();

        await console.GoAsync("usage");
        await Expect(page.Locator(".usage-table tbody tr").First).ToContainTextAsync(model);
        await Expect(page.Locator(".usage-table tbody tr").First).ToContainTextAsync(keyName);
        await Expect(page.Locator("#filter-key")).ToContainTextAsync(keyName);
        await page.Locator("#filter-model").FillAsync(model);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        await Expect(page.Locator(".usage-table tbody tr").First).ToContainTextAsync(model);
        // The filtered page replaces the unfiltered one when it arrives: wait for it rather than count the old one.
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("model="));
        var models = await page.Locator(".usage-table tbody tr .model").AllTextContentsAsync();
        Assert.NotEmpty(models);
        Assert.All(models, m => Assert.Equal(model, m));
        await AssertInertAsync(page);

        await console.GoAsync("live");
        await Expect(page.Locator(".live-table tbody tr").First).ToContainTextAsync(model);
        await AssertInertAsync(page);
        await cancel.CancelAsync();
        await slow;
        console.AssertClean();
    }

    [Fact]
    public async Task ARussianBrowser_GetsTheRussianInterface_WithRussianNumbers()
    {
        await using var site = await ConsoleSite.StartAsync();
        await SeedAsync(site);

        foreach (var (size, width, height) in new[] { ("desktop", 1366, 900), ("390", 390, 844) })
        {
            await using var console = await site.OpenAsync(browser, locale: "ru-RU", width: width, height: height);
            var page = console.Page;
            await page.GotoAsync("admin/login");
            await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "ru");
            await Expect(page.Locator("#login-title")).ToHaveTextAsync("Вход");
            await Expect(page.Locator("#login-submit")).ToHaveTextAsync("Войти");
            await page.Locator("#token").FillAsync("wrong-token-wrong-token");
            await page.Locator("#login-submit").ClickAsync();
            await Expect(page.Locator("#login-error")).ToHaveTextAsync("Неверный токен администратора.");
            await console.SignInAsync();
            await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "ru");
            await Expect(page.Locator("#view h1")).ToHaveTextAsync("Обзор");
            await Expect(page.Locator("#nav a[data-route='/keys']")).ToHaveTextAsync("Ключи");
            // 3,000 input tokens in Russian: a (no-break) space between the thousands.
            await Expect(page.Locator("[data-kpi='input-tokens']")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^5\s000$"));
            await Expect(ConsoleEndToEndTests.Legend(page, "requests", "Запросы")).ToHaveTextAsync("4");
            await console.ScreenshotAsync($"overview-ru-{size}");
            await console.GoAsync("keys");
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "+ Создать ключ" })).ToBeVisibleAsync();
            await Expect(page.Locator("tr:has(.key-name:text-is('alice')) .badge")).ToHaveTextAsync("Активен");
            console.AssertClean();
        }
    }

    /// <summary>alice: 3 × gpt-4o-mini (1,000 / 1,000); bob: 1 × gpt-4o (2,000 / 400). Returns alice's secret.</summary>
    internal static async Task<string> SeedAsync(ConsoleSite site)
    {
        var (alice, _) = await site.CreateKeyAsync(new { name = "alice", budget_usd = 0.01m, budget_period = "month", rpm = 60, max_concurrent = 2 });
        var (bob, _) = await site.CreateKeyAsync(new { name = "bob", expires_in = "7d" });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await site.ChatAsync(alice, "gpt-4o-mini"));
        }

        Assert.Equal(HttpStatusCode.OK, await site.ChatAsync(bob, "gpt-4o", """{"prompt_tokens":2000,"completion_tokens":400,"total_tokens":2400}"""));
        await site.WaitForLedgerAsync(4);
        return alice;
    }

    /// <summary>No payload became markup: no injected element, only the page's own two scripts, no dialog.</summary>
    private static async Task AssertInertAsync(IPage page)
    {
        Assert.Equal(0, await page.Locator("#pwned, img[src='x'], svg[onload], [onerror], [onload]").CountAsync());
        Assert.Equal(2, await page.EvaluateAsync<int>("() => document.scripts.length"));
    }

    private static Task<bool> NoHorizontalPageScrollAsync(IPage page) =>
        page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1");

    internal static string Int(long value) => value.ToString("N0", CultureInfo.GetCultureInfo("en-US"));
}

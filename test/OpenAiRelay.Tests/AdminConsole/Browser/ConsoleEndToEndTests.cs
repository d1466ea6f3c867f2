using System.Net;
using Microsoft.Playwright;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Tests.Sdk;
using static Microsoft.Playwright.Assertions;

namespace OpenAiRelay.Tests.AdminConsole.Browser;

/// <summary>
/// The web console in Debian's chromium against a real relay: an operator signs in, sees the traffic the test sent
/// with the right numbers, hands out a key that the official Node SDK then uses, sets its budget, revokes it, and
/// signs out.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleEndToEndTests(BrowserFixture browser)
{
    static ConsoleEndToEndTests() => SetDefaultExpectTimeout(15_000);

    [Fact]
    public async Task Operator_SeesTraffic_CreatesAKeyTheNodeSdkUses_SetsItsBudget_RevokesIt_AndSignsOut()
    {
        await using var site = await ConsoleSite.StartAsync();

        // Known traffic: alice 3 × gpt-4o-mini (1,000 in / 1,000 out: 750 µ$ each), bob 1 × gpt-4o (2,000 in with 500
        // cached / 400 out: 1,250 × 2.5 + 500 × 1.25 + 400 × 10 = 7,750 µ$) and 1 answered 500 by the upstream.
        var (alice, aliceId) = await site.CreateKeyAsync(new { name = "alice" });
        var (bob, _) = await site.CreateKeyAsync(new { name = "bob", rpm = 60 });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await site.ChatAsync(alice, "gpt-4o-mini"));
        }

        Assert.Equal(HttpStatusCode.OK, await site.ChatAsync(bob, "gpt-4o", """{"prompt_tokens":2000,"completion_tokens":400,"total_tokens":2400,"prompt_tokens_details":{"cached_tokens":500}}"""));
        Assert.Equal(HttpStatusCode.InternalServerError, await site.ChatAsync(bob, "gpt-4o", null, new Dictionary<string, string> { ["x-fake-status"] = "500" }));
        await site.WaitForLedgerAsync(5);
        var stats = await site.AdminGetAsync("admin/usage/stats?since=" + DateTimeOffset.UtcNow.AddDays(-1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));

        await using var console = await site.OpenAsync(browser);
        var page = console.Page;

        // Without a session the app shell is not served: the browser lands on the sign-in page.
        await page.GotoAsync("admin/");
        await Expect(page).ToHaveURLAsync(new Uri(site.BaseAddress, "admin/login").ToString());
        await page.Locator("#token").FillAsync("not-the-admin-token");
        await page.Locator("#login-submit").ClickAsync();
        await Expect(page.Locator("#login-error")).ToHaveTextAsync("Wrong admin token.");
        await console.SignInAsync();
        Assert.Empty(await page.EvaluateAsync<string[]>("() => [localStorage.length, sessionStorage.length].filter(n => n > 0).map(String)"));
        Assert.DoesNotContain(ConsoleSite.AdminToken, await page.ContentAsync(), StringComparison.Ordinal);

        // Overview: the totals, the charts (their legends show the range's totals off the cursor; the table below each
        // chart has every bucket), the top keys and models.
        await Expect(page.Locator("[data-kpi='requests']")).ToHaveTextAsync("5");
        await Expect(page.Locator("[data-kpi='error-rate']")).ToHaveTextAsync("20.0%");
        await Expect(page.Locator("[data-kpi='spend']")).ToHaveTextAsync(Usd(stats.GetProperty("cost_micros").GetInt64()));
        await Expect(page.Locator("[data-kpi='input-tokens']")).ToHaveTextAsync(stats.GetProperty("input_tokens").GetInt64().ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(stats.GetProperty("cost_micros").GetInt64() >= 2250 + 7750);
        await Expect(Legend(page, "requests", "Requests")).ToHaveTextAsync("5");
        await Expect(Legend(page, "requests", "Errors")).ToHaveTextAsync("1");
        await Expect(Legend(page, "output", "Output")).ToHaveTextAsync(stats.GetProperty("output_tokens").GetInt64().ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(5, await SumColumnAsync(page, "requests", 1));
        await Expect(page.Locator("[data-chart] canvas")).ToHaveCountAsync(4);
        var aliceTop = page.Locator(".top-table tr", new() { HasText = "alice (rk_live_" });
        await Expect(aliceTop.Locator("td").Nth(1)).ToHaveTextAsync("3");
        await Expect(aliceTop.Locator("td").Nth(2)).ToHaveTextAsync("$0.00225");
        var gpt4oCost = stats.GetProperty("top_models").EnumerateArray().Single(m => m.GetProperty("group").GetString() == "gpt-4o").GetProperty("cost_micros").GetInt64();
        Assert.True(gpt4oCost >= 7750, $"gpt-4o cost {gpt4oCost}");
        var gpt4o = page.Locator(".top-table tr").Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = "gpt-4o", Exact = true }) });
        await Expect(gpt4o.Locator("td").Nth(1)).ToHaveTextAsync("2");
        await Expect(gpt4o.Locator("td").Nth(2)).ToHaveTextAsync(Usd(gpt4oCost));

        // By model: one series per model, the legend's totals per model.
        await page.GetByRole(AriaRole.Button, new() { Name = "Model", Exact = true }).ClickAsync();
        await Expect(Legend(page, "requests", "gpt-4o-mini")).ToHaveTextAsync("3");
        await Expect(Legend(page, "requests", "gpt-4o")).ToHaveTextAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "7 days" }).ClickAsync();
        await Expect(page.Locator("[data-chart='requests'] .chart-per")).ToHaveTextAsync("per day");
        await Expect(Legend(page, "requests", "gpt-4o-mini")).ToHaveTextAsync("3");

        // Keys: create one in the form with a $1 monthly budget; its secret is shown once, copied with the button.
        await console.GoAsync("keys");
        await page.GetByRole(AriaRole.Button, new() { Name = "+ Create key" }).ClickAsync();
        var form = page.Locator("form.form-card");
        await form.GetByLabel("Name").FillAsync("carol");
        await form.GetByLabel("Budget, USD").FillAsync("1");
        await form.GetByLabel("Requests per minute").FillAsync("120");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var secretBox = page.Locator("#new-secret");
        await Expect(secretBox).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^rk_live_[A-Za-z0-9]{10}_[A-Za-z0-9]{40}$"));
        var secret = (await secretBox.TextContentAsync())!;
        await page.Locator("#copy-secret").ClickAsync();
        await Expect(page.Locator("#copy-secret")).ToHaveTextAsync("✓ Copied");
        Assert.Equal(secret, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        var carol = page.Locator("tr:has(.key-name:text-is('carol'))");
        await Expect(carol.Locator(".budget-amounts")).ToHaveTextAsync("$0.00 of $1.00");
        await Expect(carol).ToContainTextAsync("120 req/min");
        await page.GetByRole(AriaRole.Button, new() { Name = "I have stored it" }).ClickAsync();
        await Expect(secretBox).ToHaveCountAsync(0);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        var carolId = (await carol.GetAttributeAsync("data-key-id"))!;

        // The Node SDK uses the key: two completions of 750 µ$ each.
        await RunNodeAsync(site, secret, "ok", requests: 2);
        await site.WaitForSpendAsync(carolId, 0.0015m);
        await page.ReloadAsync();
        await console.Loaded("keys");
        await Expect(carol.Locator(".budget-amounts")).ToHaveTextAsync("$0.0015 of $1.00");

        // Its budget lowered below what it spent: the bar is full and red, and the SDK is refused.
        await carol.GetByRole(AriaRole.Button, new() { Name = "Edit limits" }).ClickAsync();
        var dialog = page.Locator("dialog.dialog");
        await Expect(dialog.GetByLabel("Budget, USD")).ToHaveValueAsync("1");
        await Expect(dialog.GetByLabel("Requests per minute")).ToHaveValueAsync("120");
        await dialog.GetByLabel("Budget, USD").FillAsync("0.001");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(dialog).ToHaveCountAsync(0);
        await Expect(carol.Locator(".budget-amounts")).ToHaveTextAsync("$0.0015 of $0.001");
        await Expect(carol.Locator(".bar")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("bar-over"));
        await Expect(carol.Locator(".budget-percent")).ToHaveTextAsync(" 150%");
        await Expect(carol).ToContainTextAsync("120 req/min"); // the PATCH changed the budget only
        await RunNodeAsync(site, secret, "quota");

        // Revoked after a confirmation: gone from the active list, listed as revoked, refused to the SDK.
        await carol.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(dialog).ToContainTextAsync("Revoke “carol”?");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Revoke key" }).ClickAsync();
        await Expect(carol).ToHaveCountAsync(0);
        await page.GetByLabel("Show revoked and expired").CheckAsync();
        await Expect(carol.Locator(".badge")).ToHaveTextAsync("Revoked");
        await RunNodeAsync(site, secret, "revoked");

        // Usage: alice's rows, exact, a page at a time, and the same rows as CSV.
        await console.GoAsync("usage");
        await page.Locator("#filter-key").SelectOptionAsync(aliceId);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        var rows = page.Locator(".usage-table tbody tr");
        await Expect(rows).ToHaveCountAsync(3);
        for (var i = 0; i < 3; i++)
        {
            await Expect(rows.Nth(i).Locator("td").Nth(2)).ToHaveTextAsync("gpt-4o-mini");
            await Expect(rows.Nth(i).Locator("td").Nth(6)).ToHaveTextAsync("1,000");
            await Expect(rows.Nth(i).Locator("td").Nth(8)).ToHaveTextAsync("1,000");
            await Expect(rows.Nth(i).Locator("td").Nth(10)).ToHaveTextAsync("$0.00075");
        }

        await page.Locator("#filter-limit").SelectOptionAsync("50");
        await page.Locator("#filter-key").SelectOptionAsync("");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        var ledgered = (await site.AdminGetAsync("admin/usage/stats?since=" + DateTimeOffset.UtcNow.AddDays(-1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))).GetProperty("requests").GetInt32();
        Assert.True(ledgered >= 7, $"{ledgered} rows: the five sent first and carol's two");
        await Expect(rows).ToHaveCountAsync(ledgered);
        await page.Locator("#filter-key").SelectOptionAsync(aliceId);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(3);
        var csvHref = (await page.Locator("#export-csv").GetAttributeAsync("href"))!;
        Assert.Contains("format=csv", csvHref, StringComparison.Ordinal);
        var csv = await page.APIRequest.GetAsync(csvHref);
        Assert.Equal(200, csv.Status);
        Assert.StartsWith("text/csv", csv.Headers["content-type"], StringComparison.Ordinal);
        var lines = (await csv.TextAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.All(lines.Skip(1), line => Assert.Contains("gpt-4o-mini", line, StringComparison.Ordinal));

        // Live: a request held by the upstream appears, then goes, without a reload.
        await console.GoAsync("live");
        await Expect(page.Locator("[data-live='in-flight']")).ToHaveTextAsync("0");
        using (var cancel = new CancellationTokenSource())
        {
            var slow = await site.StartSlowChatAsync(alice, "gpt-4o-mini", cancel.Token);
            await Expect(page.Locator("[data-live='in-flight']")).ToHaveTextAsync("1");
            await Expect(page.Locator(".live-table tbody tr")).ToContainTextAsync("alice");
            await Expect(page.Locator(".live-table tbody tr")).ToContainTextAsync("/v1/chat/completions");
            await cancel.CancelAsync();
            await slow;
        }

        await Expect(page.Locator("[data-live='in-flight']")).ToHaveTextAsync("0");
        Assert.Equal("live", await page.Locator("#view").GetAttributeAsync("data-page"));

        // Sign out: back on the sign-in page, the console is closed again, and the old cookie is dead server-side.
        var cookie = (await console.Context.CookiesAsync()).Single(c => c.Name == "relay_admin");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        await page.Locator("#sign-out").ClickAsync();
        await page.WaitForURLAsync("**/admin/login**");
        await Expect(page.Locator("#login-notice")).ToHaveTextAsync("You have signed out.");
        await page.GotoAsync("admin/#/keys");
        // The redirect keeps the fragment, as browsers do: the sign-in page, still meaning the keys page.
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/admin/login(#/keys)?$"));
        using (var replay = new HttpClient { BaseAddress = site.BaseAddress })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "admin/session");
            request.Headers.Add("Cookie", $"relay_admin={cookie.Value}");
            using var response = await replay.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        console.AssertClean();
    }

    /// <summary>The legend value of one series of a chart (off the cursor: its total over the range).</summary>
    internal static ILocator Legend(IPage page, string chart, string series) =>
        page.Locator($"[data-chart='{chart}'] .u-legend .u-series:has(.u-label:text-is('{series}')) .u-value");

    /// <summary>The sum of one column of a chart's table (every bucket of the range).</summary>
    internal static async Task<long> SumColumnAsync(IPage page, string chart, int column)
    {
        var cells = await page.Locator($"[data-chart='{chart}'] .chart-data tbody tr").EvaluateAllAsync<string[]>(
            $"rows => rows.map(r => r.children[{column}].textContent)");
        return cells.Sum(c => long.Parse(c, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Money as the en-US console shows it: cents from $1, up to six digits below.</summary>
    internal static string Usd(long micros)
    {
        var digits = micros >= 1_000_000 ? "0.00" : micros >= 10_000 ? "0.00##" : "0.00####";
        return "$" + (micros / 1_000_000m).ToString(digits, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task RunNodeAsync(ConsoleSite site, string key, string expect, int requests = 1)
    {
        var (exitCode, log) = await NodeSuite.RunAsync(
            "console.test.mjs",
            new Dictionary<string, string>
            {
                ["OPENAI_BASE_URL"] = site.Relay.ApiBase.ToString(),
                ["OPENAI_API_KEY"] = key,
                ["RELAY_CONSOLE_EXPECT"] = expect,
                ["RELAY_CONSOLE_REQUESTS"] = requests.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["RELAY_CONSOLE_USAGE"] = ConsoleSite.ThousandEach,
            },
            TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node --test console.test.mjs ({expect}) failed:\n{log}");
        Assert.Contains("# pass 1", log, StringComparison.Ordinal);
    }
}

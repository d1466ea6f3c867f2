using Microsoft.Playwright;

namespace OpenAiRelay.Tests.AdminConsole.Browser;

/// <summary>
/// One headless Debian chromium (<c>/usr/bin/chromium</c>, installed by .ci/run) for the console's browser tests,
/// driven by Playwright for .NET. The driver ships in the NuGet package; no browser is ever downloaded
/// (<c>playwright install</c> is never run). Each launch gets a fresh temporary profile, and each test its own context.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string Executable = "/usr/bin/chromium";

    /// <summary>No sandbox (CI runs as root), nothing that reaches out on its own: the tests use only 127.0.0.1.</summary>
    public static readonly string[] Arguments =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install chromium (.ci/run does).");
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Executable,
            Headless = true,
            Args = Arguments,
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        Playwright?.Dispose();
    }
}

/// <summary>The browser tests run alone: a real chromium and a relay per test are heavy on two shared cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "AdminConsole.Browser";
}

using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.AdminConsole;

/// <summary>
/// The web console ships its chart library in the repository (no npm at build time, no CDN at run time). The committed
/// copy must be exactly the package that package-lock.json pins, as `npm ci` installs it (test.sh runs it).
/// </summary>
public sealed class VendoredAssetsTests
{
    private static readonly string Client = Path.Combine(RepositoryPaths.Root, "src", "OpenAiRelay", "AdminConsole", "client");
    private static readonly string Vendor = Path.Combine(RepositoryPaths.Root, "src", "OpenAiRelay", "AdminConsole", "wwwroot", "assets", "vendor");

    [Theory]
    [InlineData("uPlot.iife.min.js")]
    [InlineData("uPlot.min.css")]
    public void VendoredChartLibrary_IsByteIdenticalToTheLockedPackage(string file)
    {
        var installed = Path.Combine(Client, "node_modules", "uplot", "dist", file);
        Assert.True(File.Exists(installed), $"{installed} is missing: run `npm ci --prefix src/OpenAiRelay/AdminConsole/client` (./test.sh does).");
        Assert.True(
            File.ReadAllBytes(installed).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Vendor, file))),
            $"wwwroot/assets/vendor/{file} differs from node_modules/uplot/dist/{file}: run `npm run vendor` in src/OpenAiRelay/AdminConsole/client and commit.");
    }

    [Fact]
    public void ChartLibrary_IsPinnedToOneExactVersion_InPackageJsonAndTheLockfile()
    {
        using var package = JsonDocument.Parse(File.ReadAllText(Path.Combine(Client, "package.json")));
        var pinned = package.RootElement.GetProperty("dependencies").GetProperty("uplot").GetString()!;
        Assert.Matches(@"^\d+\.\d+\.\d+$", pinned);

        using var lockfile = JsonDocument.Parse(File.ReadAllText(Path.Combine(Client, "package-lock.json")));
        var locked = lockfile.RootElement.GetProperty("packages").GetProperty("node_modules/uplot");
        Assert.Equal(pinned, locked.GetProperty("version").GetString());
        Assert.StartsWith("sha512-", locked.GetProperty("integrity").GetString(), StringComparison.Ordinal);

        // The banner of the vendored build names the same version.
        var banner = File.ReadLines(Path.Combine(Vendor, "uPlot.iife.min.js")).First();
        Assert.Contains($"(v{pinned})", banner, StringComparison.Ordinal);
    }
}

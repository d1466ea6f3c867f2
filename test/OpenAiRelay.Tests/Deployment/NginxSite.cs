using System.Globalization;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The shipped site, <c>deploy/nginx/openai-relay.conf</c>, with only what a deployment changes rewritten: the server
/// name, the certificate paths, the listen addresses and the relay's address. Each rewrite must match exactly as
/// often as the shipped file has the line, so an edit to the site that a deployment (or this test) would miss fails
/// here with the line named, instead of silently testing something else.
/// </summary>
public static class NginxSite
{
    public static string ShippedPath => Path.Combine(RepositoryPaths.Root, "deploy/nginx/openai-relay.conf");

    /// <param name="bareProxyPass">
    /// Replace the keep-alive <c>upstream</c> with the old guide's <c>proxy_pass http://127.0.0.1:3001</c> (a new
    /// connection to the relay for every request), for the keep-alive comparison only.
    /// </param>
    public static string Render(TestCertificate certificate, int httpPort, int httpsPort, int relayPort, bool bareProxyPass = false) =>
        Render(File.ReadAllText(ShippedPath), certificate, httpPort, httpsPort, [relayPort], bareProxyPass);

    /// <summary>
    /// <paramref name="site"/> (the shipped site, or it after an edit a guide makes, such as docs/scaling.md's second
    /// upstream server) rendered the same way, with the upstream's <c>server 127.0.0.1:3001;</c>, <c>:3002;</c>, ...
    /// lines pointed at <paramref name="relayPorts"/> in that order, each expected exactly once.
    /// </summary>
    public static string Render(string site, TestCertificate certificate, int httpPort, int httpsPort, IReadOnlyList<int> relayPorts, bool bareProxyPass = false)
    {
        var http = httpPort.ToString(CultureInfo.InvariantCulture);
        var https = httpsPort.ToString(CultureInfo.InvariantCulture);
        var relay = relayPorts[0].ToString(CultureInfo.InvariantCulture);

        // The same edits docs/deploy.md step 5.2 makes with sed (domain, hence certificate paths), plus the ports.
        site = Replace(site, "/etc/letsencrypt/live/relay.example.com/", certificate.Directory, 2);
        site = Replace(site, "server_name relay.example.com;", $"server_name {certificate.HostName};", 2);
        site = Replace(site, "listen 80;", $"listen 127.0.0.1:{http};", 1);
        site = Replace(site, "listen [::]:80;", $"listen [::1]:{http};", 1);
        site = Replace(site, "listen 443 ", $"listen 127.0.0.1:{https} ", 1);
        site = Replace(site, "listen [::]:443 ", $"listen [::1]:{https} ", 1);
        for (var i = 0; i < relayPorts.Count; i++)
        {
            site = Replace(site, $"server 127.0.0.1:{3001 + i};", $"server 127.0.0.1:{relayPorts[i].ToString(CultureInfo.InvariantCulture)};", 1);
        }

        if (bareProxyPass)
        {
            // Twice: the main location and the (commented) admin allow-list.
            site = Replace(site, "proxy_pass http://openai_relay;", $"proxy_pass http://127.0.0.1:{relay};", 2);
        }

        // Whatever is left of the production values (outside comments) is a line the rewrites above do not know.
        var active = string.Join('\n', site.Split('\n').Select(line => line.Split('#')[0]));
        foreach (var leftover in new[] { "relay.example.com", "/etc/letsencrypt", ":3001;", ":3002;", "listen 80", "listen 443", "[::]" })
        {
            Assert.False(active.Contains(leftover, StringComparison.Ordinal), $"{ShippedPath}: '{leftover}' is still in the rendered site; a deployment would have to edit a line this test does not rewrite");
        }

        return site;
    }

    /// <summary>The site with its commented admin allow-list turned on, as an operator would uncomment it.</summary>
    public static string WithAdminAllowList(string site)
    {
        var lines = site.Split('\n');
        var begin = Array.FindIndex(lines, l => l.Trim() == "# BEGIN admin allow-list");
        var end = Array.FindIndex(lines, l => l.Trim() == "# END admin allow-list");
        Assert.True(begin >= 0 && end > begin, $"{ShippedPath}: the admin allow-list block is missing");
        for (var i = begin + 1; i < end; i++)
        {
            var at = lines[i].IndexOf("# ", StringComparison.Ordinal);
            // Only the block's own comment marker goes: "# allow 203.0.113.7;" inside it stays an example.
            lines[i] = lines[i].Remove(at, 2);
        }

        return string.Join('\n', lines);
    }

    private static string Replace(string text, string from, string to, int expectedCount)
    {
        var count = 0;
        for (var at = text.IndexOf(from, StringComparison.Ordinal); at >= 0; at = text.IndexOf(from, at + from.Length, StringComparison.Ordinal))
        {
            count++;
        }

        Assert.True(count == expectedCount, $"{ShippedPath}: expected '{from}' {expectedCount} time(s), found {count}. The shipped site changed; update the deployment steps (docs/deploy.md) and this rewrite together.");
        return text.Replace(from, to, StringComparison.Ordinal);
    }
}

using System.Net;

namespace OpenAiRelay.Configuration;

/// <summary>Parses <c>RELAY_TRUSTED_PROXIES</c>: addresses and CIDR ranges, comma-separated.</summary>
internal static class TrustedProxies
{
    /// <summary>Parses an already validated list.</summary>
    public static IReadOnlyList<IPNetwork> Parse(string? value)
        => TryParse(value, out var networks, out var error) ? networks : throw new ArgumentException(error, nameof(value));

    public static bool TryParse(string? value, out IReadOnlyList<IPNetwork> networks, out string? error)
    {
        var list = new List<IPNetwork>();
        networks = list;
        error = null;
        foreach (var part in (value ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(part, out var network))
            {
                list.Add(network);
            }
            else if (IPAddress.TryParse(part, out var address))
            {
                list.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                error = $"RELAY_TRUSTED_PROXIES: '{part}' is neither an IP address nor a CIDR range";
                return false;
            }
        }

        return true;
    }
}

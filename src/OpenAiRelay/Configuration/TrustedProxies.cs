using System.Net;

namespace OpenAiRelay.Configuration;

/// <summary>Parses <c>RELAY_TRUSTED_PROXIES</c>: addresses and CIDR ranges.</summary>
internal static class TrustedProxies
{
    /// <summary>Parses an already validated list.</summary>
    public static IReadOnlyList<IPNetwork> Parse(IEnumerable<string> value)
        => TryParse(value, out var networks, out var error) ? networks : throw new ArgumentException(error, nameof(value));

    public static bool TryParse(IEnumerable<string> value, out IReadOnlyList<IPNetwork> networks, out string? error)
    {
        var list = new List<IPNetwork>();
        networks = list;
        error = null;
        foreach (var part in value)
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

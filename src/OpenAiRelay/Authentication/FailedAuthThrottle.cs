using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Authentication;

/// <summary>
/// Throttles failed authentications per client address (security.md, "Brute-force throttling"): an address that
/// fails more than <see cref="LimitOptions.FailedAuthPerMinute"/> times in a window is refused with 429 until the
/// window ends, before its token is even looked at, so a valid token from that address is refused too. Sources are
/// locked out, never keys: knowing a key id lets nobody lock its owner out.
/// <para>
/// The address is <c>Connection.RemoteIpAddress</c>, which ForwardedHeaders has already set to the real client when
/// the peer is a trusted proxy. IPv6 clients are counted per /64 (one host usually holds the whole prefix).
/// Failures are counted by a <see cref="PartitionedRateLimiter"/> of fixed windows, which runs on a monotonic clock
/// (a wall-clock jump cannot reset a window) and drops a partition once its window has fully replenished; blocked
/// addresses are kept until their window ends. Memory is therefore bounded by the addresses that failed within one
/// window. Successful requests only pay a lookup in an (almost always empty) dictionary.
/// </para>
/// </summary>
internal sealed class FailedAuthThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress>? _failures;
    private readonly ConcurrentDictionary<IPAddress, long> _blockedUntil = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;

    public FailedAuthThrottle(IOptions<LimitOptions> options, TimeProvider time)
        : this(options.Value.FailedAuthPerMinute, TimeSpan.FromMinutes(1), time)
    {
    }

    /// <summary>For tests: any window length.</summary>
    public FailedAuthThrottle(int permitLimit, TimeSpan window, TimeProvider time)
    {
        _time = time;
        _window = window;
        if (permitLimit > 0)
        {
            var limiter = new FixedWindowRateLimiterOptions { PermitLimit = permitLimit, Window = window, QueueLimit = 0, AutoReplenishment = true };
            _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ => limiter));
        }
    }

    /// <summary>Addresses currently refused (for tests and diagnostics).</summary>
    public int BlockedCount => _blockedUntil.Count;

    /// <summary>
    /// Null when <paramref name="client"/> may try to authenticate; otherwise how long it must wait.
    /// </summary>
    public TimeSpan? RetryAfter(IPAddress? client)
    {
        if (_failures is null || _blockedUntil.IsEmpty)
        {
            return null;
        }

        var key = PartitionOf(client);
        if (!_blockedUntil.TryGetValue(key, out var until))
        {
            return null;
        }

        var now = _time.GetTimestamp();
        if (until > now)
        {
            return _time.GetElapsedTime(now, until);
        }

        _blockedUntil.TryRemove(new KeyValuePair<IPAddress, long>(key, until));
        return null;
    }

    /// <summary>
    /// Counts one failed authentication from <paramref name="client"/>. Returns null while the address is within its
    /// allowance; once over it, the address is blocked and the wait is returned (this request already gets 429).
    /// </summary>
    public TimeSpan? Failed(IPAddress? client)
    {
        if (_failures is null)
        {
            return null;
        }

        var key = PartitionOf(client);
        using var lease = _failures.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return null;
        }

        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : _window;
        if (wait > _window)
        {
            wait = _window;
        }

        _blockedUntil[key] = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        SweepIfLarge();
        return wait;
    }

    public void Dispose() => _failures?.Dispose();

    /// <summary>IPv4 (and IPv4-mapped IPv6) per address, IPv6 per /64, no address (a test host) as one partition.</summary>
    internal static IPAddress PartitionOf(IPAddress? address)
    {
        if (address is null)
        {
            return IPAddress.None;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    private void SweepIfLarge()
    {
        // Entries are removed when their address comes back; sweep the ones that never do.
        if (_blockedUntil.Count < 10_000)
        {
            return;
        }

        var now = _time.GetTimestamp();
        foreach (var (address, until) in _blockedUntil)
        {
            if (until <= now)
            {
                _blockedUntil.TryRemove(new KeyValuePair<IPAddress, long>(address, until));
            }
        }
    }
}

using System.Net;
using OpenAiRelay.Authentication;

namespace OpenAiRelay.Tests.Authentication;

public sealed class FailedAuthThrottleTests
{
    [Fact]
    public async Task OverTheAllowance_AddressIsBlockedUntilTheWindowEnds_ThenRecovers()
    {
        using var throttle = new FailedAuthThrottle(2, TimeSpan.FromMilliseconds(400), TimeProvider.System);
        var client = IPAddress.Parse("203.0.113.7");
        Assert.Null(throttle.RetryAfter(client));
        Assert.Null(throttle.Failed(client));
        Assert.Null(throttle.Failed(client));
        var wait = throttle.Failed(client);
        Assert.NotNull(wait);
        Assert.InRange(wait.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(400));
        Assert.NotNull(throttle.RetryAfter(client));
        Assert.Null(throttle.RetryAfter(IPAddress.Parse("203.0.113.8")));

        await Task.Delay(600);
        Assert.Null(throttle.RetryAfter(client));
        Assert.Null(throttle.Failed(client));
        Assert.Equal(0, throttle.BlockedCount);
    }

    [Fact]
    public void Ipv6_IsCountedPerSlash64_AndMappedIpv4AsIpv4()
    {
        Assert.Equal(
            FailedAuthThrottle.PartitionOf(IPAddress.Parse("2001:db8:1:2:aaaa::1")),
            FailedAuthThrottle.PartitionOf(IPAddress.Parse("2001:db8:1:2:bbbb::2")));
        Assert.NotEqual(
            FailedAuthThrottle.PartitionOf(IPAddress.Parse("2001:db8:1:2::1")),
            FailedAuthThrottle.PartitionOf(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), FailedAuthThrottle.PartitionOf(IPAddress.Parse("::ffff:192.0.2.1")));
        Assert.Equal(IPAddress.None, FailedAuthThrottle.PartitionOf(null));
    }

    [Fact]
    public void Disabled_NeverBlocks()
    {
        using var throttle = new FailedAuthThrottle(0, TimeSpan.FromMinutes(1), TimeProvider.System);
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(throttle.Failed(IPAddress.Loopback));
        }

        Assert.Null(throttle.RetryAfter(IPAddress.Loopback));
    }
}

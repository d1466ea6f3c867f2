using System.Net;
using Microsoft.Extensions.Options;

namespace OpenAiRelay.Configuration;

/// <summary>Fails start-up with messages a person can act on: they name the variable to set.</summary>
internal sealed class RelayOptionsValidator : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Upstream.ApiKey))
        {
            failures.Add("OPENAI_API_KEY is not set: set it to the OpenAI API key the relay spends (it never leaves the server)");
        }

        if (!UpstreamEndpoint.TryParse(options.Upstream.BaseUrl, out _, out var baseUrlError))
        {
            failures.Add(baseUrlError!);
        }

        // Port 0 asks the OS for a free port (tests use it).
        if (options.Listen.Port is < 0 or > 65535)
        {
            failures.Add($"PORT must be between 1 and 65535, got {options.Listen.Port}");
        }

        foreach (var token in (options.Tokens ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Authentication.BearerToken.TryParseAuthorization("Bearer " + token, out _))
            {
                failures.Add($"RELAY_TOKEN: tokens must be 1 to {Authentication.BearerToken.MaxLength} visible ASCII characters without spaces (generate one with: openssl rand -hex 32)");
                break;
            }
        }

        if (!IPAddress.TryParse(options.Listen.BindAddress, out _))
        {
            failures.Add($"BIND_ADDRESS must be an IP address such as 127.0.0.1 or 0.0.0.0, got '{options.Listen.BindAddress}'");
        }

        if (!TrustedProxies.TryParse(options.Listen.TrustedProxies, out _, out var proxyError))
        {
            failures.Add(proxyError!);
        }

        CheckPositive(failures, options.Timeouts.GenerationIdle, "Relay:Timeouts:GenerationIdle");
        CheckPositive(failures, options.Timeouts.DefaultIdle, "Relay:Timeouts:DefaultIdle");
        CheckPositive(failures, options.Upstream.ConnectTimeout, "Relay:Upstream:ConnectTimeout");
        if (options.ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add("Relay:ShutdownTimeout must not be negative");
        }

        CheckPositive(failures, options.Storage.BusyTimeout, "Relay:Storage:BusyTimeout");
        CheckPositive(failures, options.Storage.FlushTimeout, "Relay:Storage:FlushTimeout");
        if (options.Storage.QueueCapacity <= 0)
        {
            failures.Add("Relay:Storage:QueueCapacity must be positive");
        }

        if (options.Keys.CacheTtl < TimeSpan.Zero)
        {
            failures.Add("Relay:Keys:CacheTtl must not be negative (00:00:00 disables the cache)");
        }

        if (!string.IsNullOrEmpty(options.AdminToken) && (options.AdminToken.Length < 16 || !Authentication.BearerToken.TryParseAuthorization("Bearer " + options.AdminToken, out _)))
        {
            failures.Add("RELAY_ADMIN_TOKEN must be 16 to 512 visible ASCII characters without spaces (generate one with: openssl rand -hex 32)");
        }

        if (options.Limits.DefaultMaxRequestBodySize <= 0 || options.Limits.FilesMaxRequestBodySize <= 0)
        {
            failures.Add("Relay:Limits request body sizes must be positive");
        }

        if (options.Limits.FailedAuthPerMinute < 0)
        {
            failures.Add("Relay:Limits:FailedAuthPerMinute must not be negative (0 turns throttling off)");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPositive(List<string> failures, TimeSpan value, string key)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{key} must be a positive duration such as 00:10:00");
        }
    }
}

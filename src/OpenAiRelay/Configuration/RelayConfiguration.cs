using System.Net;
using Microsoft.Extensions.Options;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Configuration;

/// <summary>
/// The one place configuration is assembled, for the server, the admin verbs and the health check alike: the same
/// sources in the same order, and every <c>Relay</c> section bound to its own options type and validated with
/// messages that name the variable to set.
/// </summary>
internal static class RelayConfiguration
{
    /// <summary>
    /// appsettings.json (next to the executable), appsettings.{environment}.json, environment variables, the command
    /// line, then the deployment guide's variables on top (<see cref="LegacyEnvironmentVariables"/>).
    /// </summary>
    public static IConfigurationBuilder AddRelaySources(this IConfigurationBuilder builder, string[] args, Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var environment = getVariable("DOTNET_ENVIRONMENT") ?? getVariable("ASPNETCORE_ENVIRONMENT") ?? "Production";
        return builder
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .AddLegacyEnvironmentVariables(getVariable);
    }

    /// <summary>The configuration a CLI verb or the health check runs with.</summary>
    public static IConfigurationRoot Load(string[] args) => new ConfigurationBuilder().AddRelaySources(args).Build();

    /// <summary>Binds each section to its options type; failures surface when a section is first read.</summary>
    public static IServiceCollection AddRelayOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RelayOptions>()
            .Bind(configuration.GetSection(RelayOptions.Section))
            .Configure(o => o.Tokens = ReadList(configuration.GetSection(RelayOptions.Section + ":Tokens"), []));
        services.AddOptions<UpstreamOptions>().Bind(configuration.GetSection(UpstreamOptions.Section));
        services.AddOptions<ListenerOptions>()
            .Bind(configuration.GetSection(ListenerOptions.Section))
            .Configure(o => o.TrustedProxies = ReadList(configuration.GetSection(ListenerOptions.Section + ":TrustedProxies"), new ListenerOptions().TrustedProxies));
        services.AddOptions<TimeoutOptions>().Bind(configuration.GetSection(TimeoutOptions.Section));
        services.AddOptions<LimitOptions>()
            .Bind(configuration.GetSection(LimitOptions.Section))
            .Configure(o => (o.DefaultPolicy, o.DefaultPolicyError) = ReadDefaultPolicy(configuration.GetSection(LimitOptions.Section + ":Default")));
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section));
        services.AddOptions<MeteringOptions>().Bind(configuration.GetSection(MeteringOptions.Section));
        services.AddOptions<RedisOptions>().Bind(configuration.GetSection(RedisOptions.Section));
        services.AddOptions<IsolationOptions>().Bind(configuration.GetSection(IsolationOptions.Section));
        services.AddOptions<KeyOptions>().Bind(configuration.GetSection(KeyOptions.Section));
        services.AddOptions<MetricsOptions>().Bind(configuration.GetSection(MetricsOptions.Section));
        services.AddOptions<TracingOptions>().Bind(configuration.GetSection(TracingOptions.Section));
        services.AddSingleton<IValidateOptions<RelayOptions>, RootValidator>();
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsValidator>();
        services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamValidator>();
        services.AddSingleton<IValidateOptions<ListenerOptions>, ListenerValidator>();
        services.AddSingleton<IValidateOptions<TimeoutOptions>, TimeoutValidator>();
        services.AddSingleton<IValidateOptions<LimitOptions>, LimitValidator>();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageValidator>();
        services.AddSingleton<IValidateOptions<KeyOptions>, KeyValidator>();
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisValidator>();
        services.AddSingleton<IValidateOptions<IsolationOptions>, IsolationValidator>();
        return services;
    }

    /// <summary>
    /// Reads every section the server needs, so that all failures are reported at once, before anything is bound to
    /// a port or a database: a relay with a bad setting does not start half-configured.
    /// </summary>
    public static void ValidateServer(IServiceProvider services)
    {
        var failures = new List<string>();
        Check<RelayOptions>(services, failures);
        Check<UpstreamOptions>(services, failures);
        Check<ListenerOptions>(services, failures);
        Check<TimeoutOptions>(services, failures);
        Check<LimitOptions>(services, failures);
        Check<StorageOptions>(services, failures);
        Check<MeteringOptions>(services, failures);
        Check<KeyOptions>(services, failures);
        Check<RedisOptions>(services, failures);
        Check<IsolationOptions>(services, failures);
        Check<MetricsOptions>(services, failures);
        Check<TracingOptions>(services, failures);
        if (failures.Count > 0)
        {
            throw new RelayConfigurationException(failures);
        }
    }

    /// <summary>
    /// <c>Relay:Limits:Default</c> held to the same rules as a key's policy: its fields (PascalCase here, so environment
    /// variables read naturally) become the admin API's JSON object and go through the one policy reader. The error is
    /// reported by the validator.
    /// </summary>
    private static (KeyPolicy Policy, string? Error) ReadDefaultPolicy(IConfigurationSection section)
    {
        try
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                foreach (var child in section.GetChildren())
                {
                    var field = s_defaultPolicyFields.TryGetValue(child.Key, out var name)
                        ? name
                        : throw new FormatException($"unknown field '{child.Key}' (known: {string.Join(", ", s_defaultPolicyFields.Keys)})");
                    if (field is "models" or "endpoints")
                    {
                        writer.WriteStartArray(field);
                        foreach (var item in ReadList(child, []))
                        {
                            writer.WriteStringValue(item);
                        }

                        writer.WriteEndArray();
                    }
                    else if (field is "budget_period" or "budget_mode")
                    {
                        writer.WriteString(field, child.Value);
                    }
                    else if (decimal.TryParse(child.Value, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var number))
                    {
                        writer.WriteNumber(field, number);
                    }
                    else
                    {
                        throw new FormatException($"'{child.Key}' must be a number");
                    }
                }

                writer.WriteEndObject();
            }

            using var json = System.Text.Json.JsonDocument.Parse(buffer.WrittenMemory);
            return (KeyPolicyJson.Read(json.RootElement, KeyPolicy.Unlimited), null);
        }
        catch (FormatException e)
        {
            return (KeyPolicy.Unlimited, $"{section.Path}: {e.Message}");
        }
    }

    private static readonly Dictionary<string, string> s_defaultPolicyFields = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Rpm"] = "rpm",
        ["Tpm"] = "tpm",
        ["MaxConcurrent"] = "max_concurrent",
        ["BudgetUsd"] = "budget_usd",
        ["BudgetPeriod"] = "budget_period",
        ["BudgetMode"] = "budget_mode",
        ["Models"] = "models",
        ["Endpoints"] = "endpoints",
    };

    /// <summary>Typed lists that also accept the one comma-separated value an environment variable carries.</summary>
    private static string[] ReadList(IConfigurationSection section, IReadOnlyList<string> fallback)
    {
        if (section.Value is { } value)
        {
            return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var items = section.GetChildren().Select(child => child.Value?.Trim()).OfType<string>().Where(item => item.Length > 0).ToArray();
        return items.Length > 0 || section.GetChildren().Any() ? items : [.. fallback];
    }

    private static void Check<T>(IServiceProvider services, List<string> failures)
        where T : class
    {
        try
        {
            _ = services.GetRequiredService<IOptions<T>>().Value;
        }
        catch (OptionsValidationException e)
        {
            failures.AddRange(e.Failures);
        }
    }

    private static ValidateOptionsResult Result(List<string> failures)
        => failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

    private static void CheckPositive(List<string> failures, TimeSpan value, string key)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{key} must be a positive duration such as 00:10:00");
        }
    }

    private sealed class RootValidator : IValidateOptions<RelayOptions>
    {
        public ValidateOptionsResult Validate(string? name, RelayOptions options)
        {
            var failures = new List<string>();
            if (options.DrainDelay < TimeSpan.Zero || options.DrainDelay > options.ShutdownTimeout)
            {
                failures.Add("Relay:DrainDelay must be between 0 and Relay:ShutdownTimeout (it is part of it)");
            }

            if (options.ShutdownTimeout < TimeSpan.Zero)
            {
                failures.Add("Relay:ShutdownTimeout must not be negative");
            }

            return Result(failures);
        }
    }

    private sealed class UpstreamValidator : IValidateOptions<UpstreamOptions>
    {
        public ValidateOptionsResult Validate(string? name, UpstreamOptions options)
        {
            var failures = new List<string>();
            if (string.IsNullOrWhiteSpace(options.ApiKey))
            {
                failures.Add("OPENAI_API_KEY is not set: set it to the OpenAI API key the relay spends (it never leaves the server)");
            }

            if (!UpstreamEndpoint.TryParse(options.BaseUrl, out _, out var baseUrlError))
            {
                failures.Add(baseUrlError!);
            }

            CheckPositive(failures, options.ConnectTimeout, "Relay:Upstream:ConnectTimeout");
            return Result(failures);
        }
    }

    private sealed class ListenerValidator : IValidateOptions<ListenerOptions>
    {
        public ValidateOptionsResult Validate(string? name, ListenerOptions options)
        {
            var failures = new List<string>();
            // Port 0 asks the OS for a free port (tests use it).
            if (options.Port is < 0 or > 65535)
            {
                failures.Add($"PORT must be between 1 and 65535, got {options.Port}");
            }

            if (!IPAddress.TryParse(options.BindAddress, out _))
            {
                failures.Add($"BIND_ADDRESS must be an IP address such as 127.0.0.1 or 0.0.0.0, got '{options.BindAddress}'");
            }

            if (!TrustedProxies.TryParse(options.TrustedProxies, out _, out var proxyError))
            {
                failures.Add(proxyError!);
            }

            return Result(failures);
        }
    }

    private sealed class TimeoutValidator : IValidateOptions<TimeoutOptions>
    {
        public ValidateOptionsResult Validate(string? name, TimeoutOptions options)
        {
            var failures = new List<string>();
            CheckPositive(failures, options.GenerationIdle, "Relay:Timeouts:GenerationIdle");
            CheckPositive(failures, options.DefaultIdle, "Relay:Timeouts:DefaultIdle");
            if (options.StalledClient < TimeSpan.Zero)
            {
                failures.Add("Relay:Timeouts:StalledClient must not be negative (0 turns it off)");
            }

            return Result(failures);
        }
    }

    private sealed class LimitValidator : IValidateOptions<LimitOptions>
    {
        public ValidateOptionsResult Validate(string? name, LimitOptions options)
        {
            var failures = new List<string>();
            if (options.DefaultMaxRequestBodySize <= 0 || options.FilesMaxRequestBodySize <= 0)
            {
                failures.Add("Relay:Limits request body sizes must be positive");
            }

            if (options.DefaultPolicyError is { } policyError)
            {
                failures.Add(policyError);
            }

            if (options.FailedAuthPerMinute < 0)
            {
                failures.Add("Relay:Limits:FailedAuthPerMinute must not be negative (0 turns throttling off)");
            }

            if (options.DefaultOutputReservationTokens is < 1 or > 1_000_000)
            {
                failures.Add("Relay:Limits:DefaultOutputReservationTokens must be between 1 and 1000000");
            }

            if (options.UnknownCostReservationUsd is < 0 or > 1_000_000 || decimal.Truncate(options.UnknownCostReservationUsd * 1_000_000m) != options.UnknownCostReservationUsd * 1_000_000m)
            {
                failures.Add("Relay:Limits:UnknownCostReservationUsd must be between 0 and 1000000 dollars, at most 6 decimals");
            }

            return Result(failures);
        }
    }

    private sealed class StorageValidator : IValidateOptions<StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, StorageOptions options)
        {
            var failures = new List<string>();
            CheckPositive(failures, options.BusyTimeout, "Relay:Storage:BusyTimeout");
            CheckPositive(failures, options.FlushTimeout, "Relay:Storage:FlushTimeout");
            if (options.QueueCapacity <= 0)
            {
                failures.Add("Relay:Storage:QueueCapacity must be positive");
            }

            return Result(failures);
        }
    }

    private sealed class KeyValidator : IValidateOptions<KeyOptions>
    {
        public ValidateOptionsResult Validate(string? name, KeyOptions options)
            => options.CacheTtl < TimeSpan.Zero
                ? ValidateOptionsResult.Fail("Relay:Keys:CacheTtl must not be negative (00:00:00 disables the cache)")
                : ValidateOptionsResult.Success;
    }

    private sealed class RedisValidator : IValidateOptions<RedisOptions>
    {
        public ValidateOptionsResult Validate(string? name, RedisOptions options)
        {
            var failures = new List<string>();
            if (!string.IsNullOrWhiteSpace(options.Url) && !RedisUrl.TryParse(options.Url, out _, out var error))
            {
                failures.Add(error!);
            }

            CheckPositive(failures, options.HeartbeatInterval, "Relay:Redis:HeartbeatInterval");
            if (options.LeaseDuration < options.HeartbeatInterval * 3)
            {
                failures.Add("Relay:Redis:LeaseDuration must be at least three Relay:Redis:HeartbeatInterval (a lease must survive a missed renewal)");
            }

            return Result(failures);
        }
    }

    private sealed class IsolationValidator : IValidateOptions<IsolationOptions>
    {
        public ValidateOptionsResult Validate(string? name, IsolationOptions options) =>
            options.Mode is { } mode && (mode.Equals(IsolationOptions.Shared, StringComparison.OrdinalIgnoreCase) || mode.Equals(IsolationOptions.PerKey, StringComparison.OrdinalIgnoreCase))
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"Relay:Isolation:Mode must be '{IsolationOptions.Shared}' or '{IsolationOptions.PerKey}'");
    }

    private sealed class MetricsValidator(IOptions<ListenerOptions> listener) : IValidateOptions<MetricsOptions>
    {
        public ValidateOptionsResult Validate(string? name, MetricsOptions options)
        {
            var failures = new List<string>();
            if (options.Port is { } port && (port is < 1 or > 65535 || port == listener.Value.Port))
            {
                failures.Add($"RELAY_METRICS_PORT must be a port between 1 and 65535 other than PORT ({listener.Value.Port}), got {port}");
            }

            if (!IPAddress.TryParse(options.BindAddress, out _))
            {
                failures.Add($"RELAY_METRICS_BIND_ADDRESS must be an IP address such as 127.0.0.1 or 0.0.0.0, got '{options.BindAddress}'");
            }

            if (options.Token is { } token && token.Trim().Length is > 0 and < 16)
            {
                failures.Add("RELAY_METRICS_TOKEN must be at least 16 characters long");
            }

            if (options.MaxKeySeries is < 0 or > 100_000 || options.MaxModelSeries is < 0 or > 10_000)
            {
                failures.Add("Relay:Metrics:MaxKeySeries must be between 0 and 100000 and Relay:Metrics:MaxModelSeries between 0 and 10000");
            }

            return Result(failures);
        }
    }
}

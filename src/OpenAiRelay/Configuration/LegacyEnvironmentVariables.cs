namespace OpenAiRelay.Configuration;

/// <summary>
/// Maps the deployment guide's environment variables onto <see cref="RelayOptions"/> keys, so existing
/// <c>.env</c> files keep working. Values are trimmed: surrounding whitespace is never part of a key or token.
/// </summary>
internal static class LegacyEnvironmentVariables
{
    private static readonly (string Variable, string Key)[] s_map =
    [
        ("OPENAI_API_KEY", "Relay:Upstream:ApiKey"),
        ("OPENAI_BASE_URL", "Relay:Upstream:BaseUrl"),
        ("OPENAI_ORGANIZATION", "Relay:Upstream:Organization"),
        ("OPENAI_PROJECT", "Relay:Upstream:Project"),
        // RELAY_TOKEN wins over OPENAI_RELAY_TOKEN when both are set (listed last).
        ("OPENAI_RELAY_TOKEN", "Relay:Tokens"),
        ("RELAY_TOKEN", "Relay:Tokens"),
        ("PORT", "Relay:Listen:Port"),
        ("BIND_ADDRESS", "Relay:Listen:BindAddress"),
        ("RELAY_TRUSTED_PROXIES", "Relay:Listen:TrustedProxies"),
        ("RELAY_DATA_DIR", "Relay:Storage:DataDirectory"),
        ("DATABASE_URL", "Relay:Storage:DatabaseUrl"),
        ("REDIS_URL", "Relay:Redis:Url"),
        ("RELAY_KEY_PEPPER", "Relay:Keys:Pepper"),
        ("RELAY_ADMIN_TOKEN", "Relay:AdminToken"),
        ("RELAY_PRICES_FILE", "Relay:PricesFile"),
        ("RELAY_METRICS_PORT", "Relay:Metrics:Port"),
        ("RELAY_METRICS_BIND_ADDRESS", "Relay:Metrics:BindAddress"),
        ("RELAY_METRICS_TOKEN", "Relay:Metrics:Token"),
        ("RELAY_TRACE_UPSTREAM", "Relay:Tracing:PropagateToUpstream"),
    ];

    public static IConfigurationBuilder AddLegacyEnvironmentVariables(
        this IConfigurationBuilder builder, Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, key) in s_map)
        {
            var value = getVariable(variable);
            if (!string.IsNullOrWhiteSpace(value))
            {
                values[key] = value.Trim();
            }
        }

        return builder.AddInMemoryCollection(values);
    }
}

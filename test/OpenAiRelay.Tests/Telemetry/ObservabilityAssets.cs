using System.Text.Json;
using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Deployment;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Telemetry;

/// <summary>
/// The shipped Grafana dashboard and Prometheus alert rules, read as their consumers read them: every PromQL
/// expression they hold, the metric names those expressions select, and each expression as Prometheus itself can run
/// it (Grafana's variables replaced by what "All" and the default intervals stand for).
/// </summary>
public static partial class ObservabilityAssets
{
    public static string DashboardPath => Path.Combine(RepositoryPaths.Root, "deploy/grafana/openai-relay.json");

    public static string AlertsPath => Path.Combine(RepositoryPaths.Root, "deploy/prometheus/alerts.yml");

    public static JsonElement Dashboard()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        return document.RootElement.Clone();
    }

    /// <summary>Every panel, those inside collapsed rows included.</summary>
    public static IEnumerable<JsonElement> Panels(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in nested.EnumerateArray())
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>(where, PromQL) for every panel target of the dashboard and every alert rule.</summary>
    public static IReadOnlyList<(string Where, string Expression)> Expressions()
    {
        var expressions = new List<(string, string)>();
        foreach (var panel in Panels(Dashboard()))
        {
            foreach (var target in panel.TryGetProperty("targets", out var targets) ? targets.EnumerateArray() : default)
            {
                expressions.Add(($"dashboard panel \"{panel.GetProperty("title").GetString()}\"", target.GetProperty("expr").GetString()!));
            }
        }

        foreach (var (name, expression) in AlertRules())
        {
            expressions.Add(("alert " + name, expression));
        }

        return expressions;
    }

    /// <summary>The metrics the dashboard's template variables read values from (<c>label_values(metric, label)</c>).</summary>
    public static IReadOnlyList<string> VariableMetrics()
    {
        var metrics = new List<string>();
        foreach (var variable in Dashboard().GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
        {
            var definition = variable.GetProperty("definition").GetString()!;
            var match = LabelValues().Match(definition);
            Assert.True(match.Success, "not label_values(metric, label): " + definition);
            metrics.Add(match.Groups["metric"].Value);
        }

        return metrics;
    }

    public static IReadOnlyList<(string Name, string Expression)> AlertRules()
    {
        using var document = JsonDocument.Parse(ComposeConfig.ToJson(File.ReadAllText(AlertsPath)));
        return document.RootElement.GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Select(r => (r.GetProperty("alert").GetString()!, r.GetProperty("expr").GetString()!))
            .ToArray();
    }

    /// <summary>
    /// The metric names a PromQL expression selects, with a histogram's <c>_bucket</c>/<c>_sum</c>/<c>_count</c> suffix
    /// taken off: what is left once label matchers, strings, ranges, groupings, variables, functions, keywords and
    /// numbers are removed.
    /// </summary>
    public static IReadOnlySet<string> MetricNames(string expression)
    {
        var bare = Strings().Replace(expression, " ");
        bare = Matchers().Replace(bare, " ");
        bare = Ranges().Replace(bare, " ");
        bare = Groupings().Replace(bare, " ");
        bare = Variables().Replace(bare, " ");
        return Identifiers().Matches(bare)
            .Where(m => !Keywords.Contains(m.Value))
            .Select(m => BaseName(m.Value))
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>A sample or series name without a histogram's suffix.</summary>
    public static string BaseName(string name) => HistogramSuffix().Replace(name, string.Empty);

    /// <summary>The expression with Grafana's variables replaced, as Prometheus' HTTP API takes it.</summary>
    public static string ForPrometheus(string expression) => expression
        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
        .Replace("$__range", "5m", StringComparison.Ordinal)
        .Replace("$relay_key", ".*", StringComparison.Ordinal)
        .Replace("$model", ".*", StringComparison.Ordinal);

    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase) { "and", "or", "unless", "bool", "offset", "inf", "nan" };

    [GeneratedRegex(@"""(\\.|[^""\\])*""")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Groupings();

    [GeneratedRegex(@"\$\{?\w+\}?")]
    private static partial Regex Variables();

    // Not preceded by a word character or a dot (the e6 of 1e6), not followed by "(" (a function).
    [GeneratedRegex(@"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\(|[\w])")]
    private static partial Regex Identifiers();

    [GeneratedRegex(@"_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"^label_values\(\s*(?<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*\w+\s*\)$")]
    private static partial Regex LabelValues();
}

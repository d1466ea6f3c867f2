using System.CommandLine;
using System.Text.Json;
using OpenAiRelay.Admin;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Hosting;

/// <summary>
/// <c>openai-relay check [--through URL] [--json]</c>: a line per <see cref="SelfCheck"/> finding, for the first run
/// and for scripts. Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the configuration is
/// invalid (the server would not start).
/// </summary>
internal static class CheckCommand
{
    public const int Passed = 0;
    public const int Failed = 1;
    public const int Invalid = 2;

    public static void AddTo(RootCommand root, Func<IConfiguration> configuration, TimeProvider? time = null, Func<HttpMessageHandler>? frontHandler = null)
    {
        var through = new Option<Uri>("--through")
        {
            Description = "Also probe through the front, as clients reach it (e.g. https://relay.example.com): /healthz, and whether streams pass unbuffered and uncompressed.",
            CustomParser = result =>
            {
                var text = result.Tokens.Single().Value;
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
                {
                    return uri;
                }

                result.AddError($"--through must be an http:// or https:// URL such as https://relay.example.com, got '{text}'");
                return null;
            },
        };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var check = new Command("check", "Check the configuration, the upstream key (one GET /v1/models), the data directory, storage, access and Redis; with --through, the front too. Exit 0 ok (warnings allowed), 1 a check failed, 2 invalid configuration.")
        {
            through,
            json,
        };
        check.SetAction((parse, cancellationToken) => RunAsync(parse, new SelfCheck(configuration(), time ?? TimeProvider.System, frontHandler), parse.GetValue(through), parse.GetValue(json), cancellationToken));
        root.Subcommands.Add(check);
    }

    private static async Task<int> RunAsync(ParseResult parse, SelfCheck selfCheck, Uri? through, bool json, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        IReadOnlyList<CheckFinding> findings;
        int exitCode;
        try
        {
            findings = await selfCheck.RunAsync(through, cancellationToken);
            exitCode = findings.Any(f => f.Status == CheckStatus.Fail) ? Failed : Passed;
        }
        catch (RelayConfigurationException e)
        {
            findings = e.Failures.Select(failure => CheckFinding.Fail("configuration", failure)).ToList();
            exitCode = Invalid;
        }

        if (json)
        {
            await output.WriteLineAsync(Json(findings));
        }
        else
        {
            await CliTable.WriteAsync(output, ["CHECK", "RESULT", "DETAIL"], findings.Select(f => (IReadOnlyList<string>)[f.Name, Word(f.Status), f.Detail]));
            await output.WriteLineAsync(exitCode switch
            {
                Passed when findings.Any(f => f.Status == CheckStatus.Warn) => "openai-relay check: passed with warnings",
                Passed => "openai-relay check: passed",
                Failed => "openai-relay check: failed",
                _ => "openai-relay check: the configuration is invalid; the relay would not start",
            });
        }

        return exitCode;
    }

    private static string Word(CheckStatus status) => status switch
    {
        CheckStatus.Pass => "ok",
        CheckStatus.Warn => "warn",
        _ => "fail",
    };

    private static string Json(IReadOnlyList<CheckFinding> findings) => AdminJson.Indented(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("status", findings.Any(f => f.Status == CheckStatus.Fail) ? "fail" : findings.Any(f => f.Status == CheckStatus.Warn) ? "warn" : "ok");
        writer.WriteStartArray("checks");
        foreach (var finding in findings)
        {
            writer.WriteStartObject();
            writer.WriteString("name", finding.Name);
            writer.WriteString("status", Word(finding.Status));
            writer.WriteString("detail", finding.Detail);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });
}

using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenAiRelay.Admin;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Forwarding;
using OpenAiRelay.Limits;
using OpenAiRelay.Metering;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;
using OpenAiRelay.Telemetry;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Hosting;

/// <summary>The composition root of the relay server.</summary>
internal static partial class RelayApplication
{
    /// <summary>Builds the server. <paramref name="configure"/> lets tests add configuration (after every other source) and logging.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json lives next to the executable, wherever the process was started from.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddLegacyEnvironmentVariables();
        // NOTE: the slim builder calls AddSimpleConsole(), which forces FormatterName = "simple" after configuration is
        // bound, so Logging__Console__FormatterName=json (the container image, the systemd unit) was ignored. Apply the
        // configured name last; the json and systemd formatters are registered by AddConsole either way.
        builder.Logging.AddConsole();
        builder.Services.PostConfigure<ConsoleLoggerOptions>(console =>
            console.FormatterName = builder.Configuration["Logging:Console:FormatterName"] ?? console.FormatterName);
        // The shared TimestampFormat ends in a space that separates the simple formatter's columns; a JSON value must not.
        builder.Services.PostConfigure<JsonConsoleFormatterOptions>(json => json.TimestampFormat = json.TimestampFormat?.TrimEnd());
        configure?.Invoke(builder);

        var options = builder.Configuration.GetSection(RelayOptions.SectionName).Get<RelayOptions>() ?? new RelayOptions();
        var validation = new RelayOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new RelayConfigurationException(validation.Failures.ToList());
        }

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options));
        builder.Services.Configure<ForwardedHeadersOptions>(forwarded => ConfigureForwardedHeaders(forwarded, options.Listen));

        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<UpstreamHttpClient>();
        builder.Services.AddSingleton<StaticTokenAuthenticator>();
        builder.Services.AddSingleton<RelayLifetime>();
        builder.Services.AddSingleton<FailedAuthThrottle>();
        builder.Services.AddSingleton<RelayForwarder>();
        AddStorage(builder.Services, options);

        var app = builder.Build();
        // Load the tokenizer's vocabulary now rather than on the first metered request.
        TokenEstimator.Warm();
        // Synchronously, before Kestrel binds: a relay whose ledger does not work must not start.
        StorageInitializer.InitializeServerAsync(app.Services, CancellationToken.None).GetAwaiter().GetResult();
        app.UseForwardedHeaders();
        app.UseWhen(
            static context => context.Request.Path.StartsWithSegments(UpstreamEndpoint.ClientApiPrefix),
            static branch => branch.UseMiddleware<RequestLogMiddleware>());
        // After the request log (a refused /v1 target is still logged), before routing (it never reaches a handler).
        app.UseRequestTargetFilter();
        app.UseWebSockets();

        app.MapHealthEndpoints();
        app.MapAdminEndpoints(options.AdminToken);
        var forwarder = app.Services.GetRequiredService<RelayForwarder>();
        app.Map(UpstreamEndpoint.ClientApiPrefix + "/{**remainder}", forwarder.ForwardAsync);
        app.MapFallback(static context => RelayErrorWriter.WriteAsync(context, RelayError.NotFound));

        WarnIfOpen(app);
        return app;
    }

    private static void AddStorage(IServiceCollection services, RelayOptions options)
    {
        // Tests may have registered a fake clock in configure; keep it.
        services.TryAddSingleton(TimeProvider.System);
        // Loaded here so that a bad price file, pepper or storage setting stops start-up with one line.
        services.AddSingleton(PriceTable.Load(options.PricesFile));
        services.AddSingleton(KeyPepper.Load(options.Keys.Pepper, options.Storage.DataDirectory));
        var database = RelayDatabaseFactory.Create(options.Storage);
        // Through a factory, so the container disposes it (PostgreSQL's connection pool) after the writer has drained.
        services.AddSingleton(_ => database);
        services.AddSingleton(new UsageLedgerJournal(Path.Combine(options.Storage.DataDirectory, UsageLedgerJournal.FileName)));
        services.AddSingleton<UsageStore>();
        services.AddSingleton<ClientKeyStore>();
        services.AddSingleton<KeyAuthenticator>();
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<KeyAdministration>();
        services.AddSingleton<UsageLedger>();
        // TryAdd: a test may substitute the ledger the request path sees.
        services.TryAddSingleton<IUsageLedger>(static sp => sp.GetRequiredService<UsageLedger>());
        // NOTE: hosted services stop in reverse order of registration, and WebApplicationBuilder registers the web
        // server's hosted service last, at Build(). So the writer, registered here, stops after Kestrel has finished
        // its in-flight requests and drains every settlement they queued (UsageLedgerWriter.StopAsync).
        services.AddHostedService<UsageLedgerWriter>();
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, RelayOptions options)
    {
        kestrel.AddServerHeader = false;
        // Longer than nginx's upstream keepalive_timeout (60 s), so nginx never reuses a connection Kestrel just closed.
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(130);
        kestrel.Limits.MaxRequestBodySize = options.Limits.DefaultMaxRequestBodySize;
        kestrel.Limits.MaxConcurrentConnections = 10_000;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 2_000;
        // security.md: 10-15 s when Kestrel is exposed without nginx; harmless behind it. Slowloris clients are cut here.
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
        // Kestrel's defaults, kept on purpose and stated here so docs/limits.md has one source: 32 KB of headers, 100
        // headers, an 8 KB request line, 240 B/s minimum body and response rates after a 5 s grace (not applied to
        // upgraded connections, which MaxConcurrentUpgradedConnections caps instead).
        kestrel.Listen(IPAddress.Parse(options.Listen.BindAddress), options.Listen.Port, listen => listen.Protocols = HttpProtocols.Http1);
    }

    private static void ConfigureForwardedHeaders(ForwardedHeadersOptions forwarded, ListenerOptions listen)
    {
        forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        // Exactly one trusted hop (nginx). Only peers listed in RELAY_TRUSTED_PROXIES may set the client address.
        forwarded.ForwardLimit = 1;
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        var trusted = TrustedProxies.Parse(listen.TrustedProxies);
        foreach (var network in trusted)
        {
            forwarded.KnownIPNetworks.Add(network);
        }

        // NOTE: with both lists empty, ForwardedHeadersMiddleware trusts EVERY peer (it only checks when a list has
        // an entry), so RELAY_TRUSTED_PROXIES="" would let any client choose its address and escape the per-address
        // auth throttle. No trusted proxy means: believe no X-Forwarded-* header at all.
        if (trusted.Count == 0)
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.None;
        }
    }

    private static void WarnIfOpen(WebApplication app)
    {
        var authenticator = app.Services.GetRequiredService<ClientAuthenticator>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OpenAiRelay");
        if (authenticator.WasOpenAtLastCheck)
        {
            LogOpenRelay(logger);
        }
        else
        {
            LogTokensConfigured(logger, authenticator.StaticTokenCount);
        }
    }

    [LoggerMessage(EventId = 100, EventName = "OpenRelay", Level = LogLevel.Warning,
        Message = "NO CLIENT TOKEN IS SET (RELAY_TOKEN / OPENAI_RELAY_TOKEN) AND NO CLIENT KEY EXISTS: anyone who can reach this relay spends your OpenAI key. Create a key (openai-relay keys create NAME) or set RELAY_TOKEN unless the relay is reachable only by trusted clients. The first key created closes the relay.")]
    private static partial void LogOpenRelay(ILogger logger);

    [LoggerMessage(EventId = 101, EventName = "TokensConfigured", Level = LogLevel.Information, Message = "Relay accepts {Count} shared client token(s) and the client keys in its database")]
    private static partial void LogTokensConfigured(ILogger logger, int count);
}

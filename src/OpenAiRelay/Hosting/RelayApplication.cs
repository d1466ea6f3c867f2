using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenAiRelay.Admin;
using OpenAiRelay.AdminConsole;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Forwarding;
using OpenAiRelay.Isolation;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Limits;
using OpenAiRelay.Metering;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;
using OpenAiRelay.Telemetry;
using OpenAiRelay.Ledger;
using StackExchange.Redis;

namespace OpenAiRelay.Hosting;

/// <summary>The composition root of the relay server.</summary>
internal static partial class RelayApplication
{
    /// <summary>Builds the server. <paramref name="configure"/> lets tests add configuration (after every other source) and logging.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json lives next to the executable, wherever the process was started from.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        // The same sources in the same order as the admin verbs and the health check (RelayConfiguration).
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddRelaySources(args);
        // NOTE: the slim builder calls AddSimpleConsole(), which forces FormatterName = "simple" after configuration is
        // bound, so Logging__Console__FormatterName=json (the container image, the systemd unit) was ignored. Apply the
        // configured name last; the json and systemd formatters are registered by AddConsole either way.
        builder.Logging.AddConsole();
        builder.Services.PostConfigure<ConsoleLoggerOptions>(console =>
            console.FormatterName = builder.Configuration["Logging:Console:FormatterName"] ?? console.FormatterName);
        // The shared TimestampFormat ends in a space that separates the simple formatter's columns; a JSON value must not.
        builder.Services.PostConfigure<JsonConsoleFormatterOptions>(json => json.TimestampFormat = json.TimestampFormat?.TrimEnd());
        configure?.Invoke(builder);
        // The framework's lines that print the request URL with its query ("Request starting ...", YARP's "Proxying to
        // ...") are never written, whatever level an operator sets: a client may carry its token in the query (Azure's
        // ?api-key=), and the relay's own request log line already says everything else without it.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp.ReverseProxy.Forwarder.HttpForwarder", LogLevel.Warning);

        var services = builder.Services;
        services.AddRelayOptions(builder.Configuration);
        services.AddSingleton<IValidateOptions<RelayOptions>, TokenOptionsValidator>();
        services.AddOptions<HostOptions>().Configure<IOptions<RelayOptions>>((host, relay) => host.ShutdownTimeout = relay.Value.ShutdownTimeout);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ListenerOptions>, IOptions<LimitOptions>, IOptions<MetricsOptions>>(
            (kestrel, listen, limits, metrics) => ConfigureKestrel(kestrel, listen.Value, limits.Value, metrics.Value));
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ListenerOptions>>(
            (forwarded, listen) => ConfigureForwardedHeaders(forwarded, listen.Value));

        services.AddHttpForwarder();
        services.AddSingleton<UpstreamHttpClient>();
        services.AddSingleton<StaticTokenAuthenticator>();
        services.AddSingleton<KeyLimiter>();
        if (string.IsNullOrWhiteSpace(builder.Configuration[RedisOptions.Section + ":Url"]))
        {
            services.AddSingleton<IKeyLimiter>(static sp => sp.GetRequiredService<KeyLimiter>());
        }
        else
        {
            // REDIS_URL: every instance shares its limits; the in-process limiter stands in while Redis does not answer.
            services.AddSingleton<IConnectionMultiplexer>(static sp => RedisKeyLimiter.Connect(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Url!));
            services.AddSingleton<RedisKeyLimiter>();
            services.AddSingleton<IKeyLimiter>(static sp => sp.GetRequiredService<RedisKeyLimiter>());
        }

        services.AddSingleton<RelayLifetime>();
        services.AddHostedService(static provider => provider.GetRequiredService<RelayLifetime>());
        services.AddSingleton<FailedAuthThrottle>();
        services.AddSingleton<RelayForwarder>();
        services.AddSingleton<ActiveStreams>();
        services.AddSingleton<RequestsInFlight>();
        services.AddSingleton<UsageReports>();
        services.AddSingleton<ConsoleSessionStore>();
        services.AddSingleton<ConsoleAssets>();
        services.AddSingleton<IRelayRequestObserver, RequestLog>();
        services.AddRelayTelemetry(builder.Configuration);
        AddStorage(services);

        var app = builder.Build();
        // Every section at once, before a port or a database is touched: one line per bad setting.
        RelayConfiguration.ValidateServer(app.Services);
        // A bad price file, pepper or storage setting stops start-up here with one line, not at the first request.
        _ = app.Services.GetRequiredService<PriceTable>();
        _ = app.Services.GetRequiredService<KeyPepper>();
        // Connects to Redis (in the background: a relay starts without it) and starts renewing leases.
        _ = app.Services.GetRequiredService<IKeyLimiter>();
        // Load the tokenizer's vocabulary now rather than on the first metered request.
        TokenEstimator.Warm();
        // Synchronously, before Kestrel binds: a relay whose ledger does not work must not start.
        StorageInitializer.InitializeServerAsync(app.Services, CancellationToken.None).GetAwaiter().GetResult();
        app.UseForwardedHeaders();
        // Before everything else: a scrape is answered here (or refused without its token) and is no /v1 request.
        app.UseRelayMetrics();
        app.UseWhen(
            static context => context.Request.Path.StartsWithSegments(RelayPaths.ClientApiPrefix),
            static branch => branch.UseMiddleware<RequestRecordMiddleware>());
        // After the request record (a refused /v1 target is still logged), before routing (it never reaches a handler).
        app.UseRequestTargetFilter();
        app.UseWebSockets();
        if (!string.IsNullOrEmpty(app.Services.GetRequiredService<IOptions<RelayOptions>>().Value.AdminToken))
        {
            // Every /admin answer, the console's and the API's, errors included, carries the console's CSP and friends.
            app.UseWhen(static context => context.Request.Path.StartsWithSegments("/admin"), static branch => branch.UseMiddleware<ConsoleSecurityHeaders>());
        }

        app.MapHealthEndpoints();
        app.MapAdminEndpoints(app.Services.GetRequiredService<IOptions<RelayOptions>>().Value.AdminToken);
        app.Map(RelayPaths.ClientApiPrefix + "/{**remainder}", BuildRequestPipeline(app));
        app.MapFallback(static context => RelayErrorWriter.WriteAsync(context, RelayError.NotFound));

        WarnIfOpen(app);
        return app;
    }

    /// <summary>
    /// The stages of a <c>/v1</c> request in request order, as YARP composes its proxy pipeline: each a small
    /// middleware with one job, reading what earlier stages decided through read-only features, the forwarder last.
    /// </summary>
    private static RequestDelegate BuildRequestPipeline(WebApplication app)
    {
        var pipeline = ((IEndpointRouteBuilder)app).CreateApplicationBuilder();
        pipeline.UseMiddleware<AdmissionStage>();
        pipeline.UseMiddleware<AuthenticationStage>();
        pipeline.UseMiddleware<RequestBodyLimitStage>();
        pipeline.UseMiddleware<StalledClientStage>();
        var metering = app.Services.GetRequiredService<IOptions<MeteringOptions>>().Value.Enabled;
        if (metering)
        {
            // Before the key's policy and limits: they read the model, the prompt estimate and the output cap.
            pipeline.UseMiddleware<RequestInspectionStage>();
        }

        pipeline.UseMiddleware<KeyPolicyStage>();
        // Before the limits: a request for another key's object is refused without spending anything.
        pipeline.UseMiddleware<ObjectIsolationStage>();
        pipeline.UseMiddleware<KeyLimitStage>();
        if (metering)
        {
            pipeline.UseMiddleware<MeteringStage>();
        }

        pipeline.Run(app.Services.GetRequiredService<RelayForwarder>().ForwardAsync);
        return pipeline.Build();
    }

    private static void AddStorage(IServiceCollection services)
    {
        // Tests may have registered a fake clock in configure; keep it.
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(static sp => PriceTable.Load(sp.GetRequiredService<IOptions<RelayOptions>>().Value.PricesFile));
        services.AddSingleton(static sp =>
            KeyPepper.Load(sp.GetRequiredService<IOptions<KeyOptions>>().Value.Pepper, sp.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory));
        // Through a factory, so the container disposes it (PostgreSQL's connection pool) after the writer has drained.
        services.AddSingleton(static sp => RelayDatabaseFactory.Create(sp.GetRequiredService<IOptions<StorageOptions>>().Value));
        services.AddSingleton(static sp =>
            new UsageLedgerJournal(Path.Combine(sp.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory, UsageLedgerJournal.FileName)));
        services.AddSingleton<UsageStore>();
        services.AddSingleton<BudgetReservationStore>();
        services.AddSingleton<ObjectOwnershipStore>();
        services.AddSingleton<ObjectOwnership>();
        services.AddSingleton<ISpendHistory>(static sp => sp.GetRequiredService<UsageStore>());
        services.AddSingleton<ClientKeyStore>();
        services.AddSingleton<AdminAuditStore>();
        services.AddSingleton<KeyAuthenticator>();
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<KeyAdministration>();
        services.AddSingleton<ObjectAdministration>();
        services.AddSingleton<UsageLedger>();
        // TryAdd: a test may substitute the ledger the request path sees.
        services.TryAddSingleton<IUsageLedger>(static sp => sp.GetRequiredService<UsageLedger>());
        // NOTE: hosted services stop in reverse order of registration, and WebApplicationBuilder registers the web
        // server's hosted service last, at Build(). So the writer, registered here, stops after Kestrel has finished
        // its in-flight requests and drains every settlement they queued (UsageLedgerWriter.StopAsync).
        services.AddHostedService<UsageLedgerWriter>();
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, ListenerOptions listen, LimitOptions limits, MetricsOptions metrics)
    {
        kestrel.AddServerHeader = false;
        // Longer than nginx's upstream keepalive_timeout (60 s), so nginx never reuses a connection Kestrel just closed.
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(130);
        kestrel.Limits.MaxRequestBodySize = limits.DefaultMaxRequestBodySize;
        kestrel.Limits.MaxConcurrentConnections = 10_000;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 2_000;
        // security.md: 10-15 s when Kestrel is exposed without nginx; harmless behind it. Slowloris clients are cut here.
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
        // Kestrel's defaults, kept on purpose and stated here so docs/limits.md has one source: 32 KB of headers, 100
        // headers, an 8 KB request line, 240 B/s minimum body and response rates after a 5 s grace (not applied to
        // upgraded connections, which MaxConcurrentUpgradedConnections caps instead).
        kestrel.Listen(IPAddress.Parse(listen.BindAddress), listen.Port, listen => listen.Protocols = HttpProtocols.Http1);
        if (metrics.Port is { } metricsPort)
        {
            // Its own listener, loopback unless configured: it serves /metrics and nothing else (MetricsEndpoint).
            kestrel.Listen(IPAddress.Parse(metrics.BindAddress), metricsPort, listen => listen.Protocols = HttpProtocols.Http1);
        }
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

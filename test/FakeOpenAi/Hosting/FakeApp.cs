using System.Net;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Faults;
using FakeOpenAi.Recording;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace FakeOpenAi.Hosting;

/// <summary>Builds the fake's Kestrel app: loopback only, no configuration sources, warnings-only logging.</summary>
internal static class FakeApp
{
    public static WebApplication Build(FakeState state)
    {
        // The empty builder reads no appsettings or ASPNETCORE_* variables, so a test process's environment cannot
        // move the fake off 127.0.0.1 or change its behaviour.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(FakeApp).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, state.Options.Port, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.AddServerHeader = false;
            // Uploads of 100 MB and more must stream through, and slow test clients must not be cut off by rate rules.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
        });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<IHostLifetime, NullHostLifetime>();
        builder.Services.AddSingleton(state);

        var app = builder.Build();
        // Outside the recorder, so a recorded response body is what the fake wrote, before compression.
        app.UseMiddleware<CompressionMiddleware>();
        app.UseMiddleware<RecordingMiddleware>();
        app.UseMiddleware<OpenAiHeadersMiddleware>();
        app.UseWebSockets();
        app.UseMiddleware<AuthMiddleware>();
        app.UseMiddleware<FaultMiddleware>();
        app.Run(new EndpointRouter(state).InvokeAsync);
        return app;
    }
}

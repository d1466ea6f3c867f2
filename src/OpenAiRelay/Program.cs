using System.CommandLine;
using OpenAiRelay.Admin;
using OpenAiRelay.Hosting;
using OpenAiRelay.Configuration;

var root = new RootCommand("openai-relay: a transparent, streaming relay for the OpenAI API. Without a command it serves.");
root.SetAction(async (_, _) =>
{
    // One request log line is about 270 bytes and Console.Out's buffer is 256, so every line cost two write()
    // syscalls. A 4 KB buffer, still flushed after every write, makes it one per line; nothing waits longer.
    Console.SetOut(new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 4096) { AutoFlush = true });
    try
    {
        // The host handles SIGTERM itself: it stops accepting, drains in-flight streams for Relay:ShutdownTimeout,
        // then exits 0.
        await RelayApplication.Build(args).RunAsync();
        return 0;
    }
    catch (RelayConfigurationException e)
    {
        foreach (var failure in e.Failures)
        {
            await Console.Error.WriteLineAsync($"openai-relay: {failure}");
        }

        return 2;
    }
});

var healthcheck = new Command("healthcheck", "Exit 0 if the relay on this host answers /healthz (for container health checks).");
healthcheck.SetAction((_, cancellationToken) => HealthCheckCommand.RunAsync(cancellationToken));
root.Subcommands.Add(healthcheck);
AdminCommands.AddTo(root, () => RelayConfiguration.Load([]));
CheckCommand.AddTo(root, () => RelayConfiguration.Load([]));

// NOTE: System.CommandLine would otherwise catch SIGTERM and end the process after 2 s, cutting in-flight streams.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

using System.Globalization;
using System.Runtime.InteropServices;

namespace FakeOpenAi;

/// <summary>
/// Exe mode for benchmarks and demos:
/// <c>dotnet run --project test/FakeOpenAi -- --port 8080 [--api-key K] [--event-interval-ms N] [--events N] [--no-auth] [--record]</c>.
/// Recording is off by default here so the fake stays flat under load.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        FakeOpenAiOptions options;
        try
        {
            options = Parse(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync("usage: FakeOpenAi [--port N] [--api-key KEY] [--event-interval-ms N] [--events N] [--no-auth] [--record]");
            return 2;
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        FakeOpenAiServer server;
        try
        {
            server = await FakeOpenAiServer.StartAsync(options);
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"FakeOpenAi could not listen on 127.0.0.1:{options.Port}: {ex.Message}");
            return 1;
        }

        await using var _ = server;
        Console.WriteLine($"FakeOpenAi listening on {server.BaseAddress} (API at {server.ApiBaseAddress}, key {server.ApiKey})");
        await stop.Task;
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
    }

    private static FakeOpenAiOptions Parse(string[] args)
    {
        var port = 8080;
        var apiKey = new FakeOpenAiOptions().ApiKey;
        var interval = new FakeOpenAiOptions().StreamEventInterval;
        var events = new FakeOpenAiOptions().DefaultEventCount;
        var requireAuth = true;
        var record = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--port":
                    port = Number(args, ++i);
                    break;
                case "--api-key":
                    apiKey = Value(args, ++i);
                    break;
                case "--event-interval-ms":
                    interval = TimeSpan.FromMilliseconds(Number(args, ++i));
                    break;
                case "--events":
                    events = Number(args, ++i);
                    break;
                case "--no-auth":
                    requireAuth = false;
                    break;
                case "--record":
                    record = true;
                    break;
                default:
                    throw new FormatException($"Unknown argument '{args[i]}'.");
            }
        }

        return new FakeOpenAiOptions
        {
            Port = port,
            ApiKey = apiKey,
            StreamEventInterval = interval,
            DefaultEventCount = events,
            RequireAuth = requireAuth,
            RecordRequests = record,
        };
    }

    private static string Value(string[] args, int index) =>
        index < args.Length ? args[index] : throw new FormatException($"Missing value after '{args[index - 1]}'.");

    private static int Number(string[] args, int index) =>
        int.TryParse(Value(args, index), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"'{args[index]}' after '{args[index - 1]}' is not a non-negative integer.");
}

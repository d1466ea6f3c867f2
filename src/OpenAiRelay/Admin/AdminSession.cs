using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Hosting;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// The storage a CLI verb works on, opened from the same configuration as the server (appsettings.json, environment
/// variables, <c>DATABASE_URL</c>, <c>RELAY_DATA_DIR</c>), so <c>docker compose exec relay openai-relay keys ...</c>
/// changes what the running relay sees. Migrations are applied first; they are idempotent and serialised.
/// </summary>
internal sealed class AdminSession : IAsyncDisposable
{
    private AdminSession(RelayDatabase database, KeyAdministration keys, UsageStore usage)
    {
        Database = database;
        Keys = keys;
        Usage = usage;
    }

    public RelayDatabase Database { get; }

    public KeyAdministration Keys { get; }

    public UsageStore Usage { get; }

    public static IConfiguration LoadConfiguration(string[]? args = null)
    {
        var environment = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Production";
        // The server's order: JSON files, environment variables, then the deployment guide's variables on top.
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args ?? [])
            .AddLegacyEnvironmentVariables()
            .Build();
    }

    public static async Task<AdminSession> OpenAsync(IConfiguration configuration, TimeProvider time, bool migrate, CancellationToken cancellationToken)
    {
        var options = configuration.GetSection(RelayOptions.SectionName).Get<RelayOptions>() ?? new RelayOptions();
        var database = RelayDatabaseFactory.Create(options.Storage);
        await StorageInitializer.OpenAsync(database, time, migrate, cancellationToken);
        var pepper = KeyPepper.Load(options.Keys.Pepper, options.Storage.DataDirectory);
        return new AdminSession(database, new KeyAdministration(new ClientKeyStore(database), pepper, time), new UsageStore(database));
    }

    public ValueTask DisposeAsync() => Database is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}

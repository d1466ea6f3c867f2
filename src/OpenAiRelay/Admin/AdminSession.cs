using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using Microsoft.Extensions.Options;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// The storage a CLI verb works on, opened from the same configuration as the server (appsettings.json, environment
/// variables, <c>DATABASE_URL</c>, <c>RELAY_DATA_DIR</c>), so <c>docker compose exec relay openai-relay keys ...</c>
/// changes what the running relay sees. Migrations are applied first; they are idempotent and serialised.
/// </summary>
internal sealed class AdminSession : IAsyncDisposable
{
    private AdminSession(RelayDatabase database, KeyAdministration keys, ObjectAdministration objects, UsageStore usage, KeyPolicy defaultPolicy)
    {
        Database = database;
        Keys = keys;
        Objects = objects;
        Usage = usage;
        DefaultPolicy = defaultPolicy;
    }

    public RelayDatabase Database { get; }

    public KeyAdministration Keys { get; }

    public ObjectAdministration Objects { get; }

    public UsageStore Usage { get; }

    /// <summary><c>Relay:Limits:Default</c>, as the server reads it: the budget of keys that set none.</summary>
    public KeyPolicy DefaultPolicy { get; }

    public static async Task<AdminSession> OpenAsync(IConfiguration configuration, TimeProvider time, bool migrate, CancellationToken cancellationToken)
    {
        using var options = new ServiceCollection().AddRelayOptions(configuration).BuildServiceProvider();
        var storage = Read<StorageOptions>(options);
        var keys = Read<KeyOptions>(options);
        var limits = Read<LimitOptions>(options);
        var database = RelayDatabaseFactory.Create(storage);
        await DatabaseOpener.OpenAsync(database, time, migrate, cancellationToken);
        var pepper = KeyPepper.Load(keys.Pepper, storage.DataDirectory);
        var audit = new AdminAuditStore(database);
        return new AdminSession(
            database,
            new KeyAdministration(new ClientKeyStore(database), pepper, audit, time),
            new ObjectAdministration(new ObjectOwnershipStore(database), new ClientKeyStore(database), audit, time),
            new UsageStore(database),
            limits.DefaultPolicy);
    }

    /// <summary>A section as the server would read it; a bad value fails the verb with the server's own message.</summary>
    private static T Read<T>(IServiceProvider options)
        where T : class
    {
        try
        {
            return options.GetRequiredService<IOptions<T>>().Value;
        }
        catch (OptionsValidationException e)
        {
            throw new RelayConfigurationException(e.Failures.ToList());
        }
    }

    public ValueTask DisposeAsync() => Database is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}

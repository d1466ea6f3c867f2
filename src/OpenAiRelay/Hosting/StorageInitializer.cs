using OpenAiRelay.Authentication;
using OpenAiRelay.Metering;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;
using OpenAiRelay.Configuration;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Hosting;

/// <summary>
/// Brings the store up before the server accepts a request: checks the database (a missing directory is created;
/// an unreadable, read-only or corrupt file stops start-up with one line), applies migrations, replays the fallback
/// journal, and settles rows a crashed process left in flight. The relay never serves without a working ledger.
/// </summary>
internal static partial class StorageInitializer
{
    public static async Task OpenAsync(RelayDatabase database, TimeProvider time, bool migrate, CancellationToken cancellationToken)
    {
        try
        {
            await database.PrepareAsync(cancellationToken);
            if (migrate)
            {
                await SchemaMigrator.MigrateAsync(database, time, cancellationToken);
            }
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            throw Failure(database, e);
        }
    }

    public static async Task InitializeServerAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var database = services.GetRequiredService<RelayDatabase>();
        var time = services.GetRequiredService<TimeProvider>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OpenAiRelay.Storage");
        var processStart = time.GetUtcNow();
        await OpenAsync(database, time, migrate: true, cancellationToken);
        try
        {
            var store = services.GetRequiredService<UsageStore>();
            var journal = services.GetRequiredService<UsageLedgerJournal>();
            journal.RecoverInterruptedReplay();
            var (replayed, skipped) = await journal.ReplayAsync(records => store.UpsertAsync(records, cancellationToken));
            if (replayed + skipped > 0)
            {
                LogJournalReplayed(logger, replayed, skipped);
            }

            var interrupted = await UsageLedgerReconciler.ReconcileAsync(store, services.GetRequiredService<PriceTable>(), processStart, cancellationToken);
            if (interrupted > 0)
            {
                LogReconciled(logger, interrupted);
            }

            await services.GetRequiredService<ClientAuthenticator>().RefreshAsync(cancellationToken);
            LogStorageReady(logger, database.Description);
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            throw Failure(database, e);
        }
    }

    private static bool IsStorageFailure(Exception e)
        => e is System.Data.Common.DbException or IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException;

    private static RelayConfigurationException Failure(RelayDatabase database, Exception e)
    {
        var reason = e.Message.Split('\n', 2)[0].Trim();
        return new RelayConfigurationException(
            [$"cannot use the ledger database ({database.Description}): {reason}. The relay does not serve without its ledger: check RELAY_DATA_DIR or DATABASE_URL, permissions and free space"]);
    }

    [LoggerMessage(EventId = 320, EventName = "StorageReady", Level = LogLevel.Information, Message = "Keys and usage ledger in {Database}")]
    private static partial void LogStorageReady(ILogger logger, string database);

    [LoggerMessage(EventId = 321, EventName = "LedgerReconciled", Level = LogLevel.Warning,
        Message = "{Count} request(s) were in flight when the relay last stopped; settled as 'interrupted' with their admission estimate")]
    private static partial void LogReconciled(ILogger logger, int count);

    [LoggerMessage(EventId = 322, EventName = "StartupJournalReplayed", Level = LogLevel.Warning,
        Message = "Replayed {Count} ledger record(s) from the fallback journal ({Skipped} unreadable line(s) skipped)")]
    private static partial void LogJournalReplayed(ILogger logger, int count, int skipped);
}

using OpenAiRelay.Authentication;
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
    public static async Task InitializeServerAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var database = services.GetRequiredService<RelayDatabase>();
        var time = services.GetRequiredService<TimeProvider>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OpenAiRelay.Storage");
        var processStart = time.GetUtcNow();
        await DatabaseOpener.OpenAsync(database, time, migrate: true, cancellationToken);
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
        catch (Exception e) when (DatabaseOpener.IsStorageFailure(e))
        {
            throw DatabaseOpener.Failure(database, e);
        }
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

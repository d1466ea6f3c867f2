using OpenAiRelay.Configuration;

namespace OpenAiRelay.Storage;

/// <summary>
/// Opens the database for the server and the CLI alike: checks it (a missing directory is created; an unreadable,
/// read-only or corrupt file fails with one line) and applies migrations, which are idempotent and serialised.
/// </summary>
internal static class DatabaseOpener
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

    public static bool IsStorageFailure(Exception e)
        => e is System.Data.Common.DbException or IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException;

    public static RelayConfigurationException Failure(RelayDatabase database, Exception e)
    {
        var reason = e.Message.Split('\n', 2)[0].Trim();
        return new RelayConfigurationException(
            [$"cannot use the ledger database ({database.Description}): {reason}. The relay does not serve without its ledger: check RELAY_DATA_DIR or DATABASE_URL, permissions and free space"]);
    }
}

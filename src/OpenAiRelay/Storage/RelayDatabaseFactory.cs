using OpenAiRelay.Configuration;

namespace OpenAiRelay.Storage;

/// <summary>Chooses the store from configuration: PostgreSQL when asked for, otherwise SQLite under the data directory.</summary>
internal static class RelayDatabaseFactory
{
    public const string SqliteFileName = "relay.db";

    /// <summary>
    /// Whether <paramref name="options"/> choose PostgreSQL (then nothing of the ledger lives in the data directory).
    /// A bad provider name is not PostgreSQL; <see cref="Create"/> reports it.
    /// </summary>
    public static bool UsesPostgres(StorageOptions options)
    {
        var provider = options.Provider?.Trim().ToLowerInvariant();
        return provider == StorageOptions.Postgres || (provider is null && !string.IsNullOrWhiteSpace(options.DatabaseUrl));
    }

    public static RelayDatabase Create(StorageOptions options)
    {
        var provider = options.Provider?.Trim().ToLowerInvariant();
        if (!string.IsNullOrWhiteSpace(options.DatabaseUrl) && provider is null or StorageOptions.Postgres)
        {
            if (!DatabaseUrl.TryConvert(options.DatabaseUrl, out var converted, out var error))
            {
                throw new RelayConfigurationException([error!]);
            }

            return new PostgresRelayDatabase(converted!, options.BusyTimeout);
        }

        switch (provider)
        {
            case null or "" or StorageOptions.Sqlite:
                return new SqliteRelayDatabase(Path.Combine(options.DataDirectory, SqliteFileName), options.BusyTimeout);
            case StorageOptions.Postgres when !string.IsNullOrWhiteSpace(options.ConnectionString):
                try
                {
                    return new PostgresRelayDatabase(options.ConnectionString, options.BusyTimeout);
                }
                catch (ArgumentException)
                {
                    throw new RelayConfigurationException(["Relay:Storage:ConnectionString is not a valid Npgsql connection string"]);
                }

            case StorageOptions.Postgres:
                throw new RelayConfigurationException(["Relay:Storage:Provider is postgres: set DATABASE_URL or Relay:Storage:ConnectionString"]);
            default:
                throw new RelayConfigurationException([$"Relay:Storage:Provider must be 'sqlite' or 'postgres', got '{options.Provider}'"]);
        }
    }
}

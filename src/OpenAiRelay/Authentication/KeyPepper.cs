using System.Security.Cryptography;
using System.Text;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Authentication;

/// <summary>
/// The HMAC key under which client key secrets are hashed. Kept outside the database on purpose: someone holding a
/// stolen copy of the database alone cannot confirm whether a leaked or guessed token is valid.
/// <c>RELAY_KEY_PEPPER</c> wins; otherwise a random 32-byte file <c>pepper</c> (mode 0600) is created in the data directory.
/// </summary>
internal sealed class KeyPepper
{
    public const string FileName = "pepper";
    public const int FileLength = 32;
    private const int MinimumConfiguredLength = 32;

    private KeyPepper(byte[] key) => Key = key;

    public byte[] Key { get; }

    public static KeyPepper Load(string? configured, string dataDirectory)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured.Length >= MinimumConfiguredLength
                ? new KeyPepper(Encoding.UTF8.GetBytes(configured))
                : throw new RelayConfigurationException([$"RELAY_KEY_PEPPER must be at least {MinimumConfiguredLength} characters (generate one with: openssl rand -hex 32)"]);
        }

        var path = Path.Combine(dataDirectory, FileName);
        try
        {
            OwnerOnly.Directory(dataDirectory);
            if (!File.Exists(path))
            {
                TryCreate(path);
            }

            var bytes = File.ReadAllBytes(path);
            return bytes.Length == FileLength
                ? new KeyPepper(bytes)
                : throw new RelayConfigurationException([$"{Path.GetFullPath(path)} must hold exactly {FileLength} bytes; restore it from backup (every key depends on it)"]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RelayConfigurationException([$"Cannot read or create the key pepper {Path.GetFullPath(path)}: {e.Message} (check RELAY_DATA_DIR or set RELAY_KEY_PEPPER)"]);
        }
    }

    private static void TryCreate(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.WriteThrough };
        if (!OperatingSystem.IsWindows())
        {
            // Created with 0600 from the start: never readable by others, not even for a moment.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(RandomNumberGenerator.GetBytes(FileLength));
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process (a CLI verb next to the server) created it first: use theirs.
        }
    }
}

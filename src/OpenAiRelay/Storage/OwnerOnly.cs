namespace OpenAiRelay.Storage;

/// <summary>
/// The data directory holds the ledger (who spent what), key hashes and the pepper: only the relay's own user may
/// read it. The directory is made 0700 and the files the relay creates there 0600, whatever the process umask
/// (SQLite creates <c>relay.db</c>, <c>-wal</c> and <c>-shm</c> with it, 0644 by default). Best effort where the
/// relay does not own the path; nothing here applies on Windows.
/// </summary>
internal static class OwnerOnly
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> (and its parents) if missing, and makes it owner-only.</summary>
    public static void Directory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
            return;
        }

        System.IO.Directory.CreateDirectory(path, DirectoryMode);
        Restrict(path, DirectoryMode);
    }

    /// <summary>Makes each existing file owner-only.</summary>
    public static void Files(params string[] paths)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var path in paths)
        {
            if (System.IO.File.Exists(path))
            {
                Restrict(path, FileMode);
            }
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void Restrict(string path, UnixFileMode mode)
    {
        try
        {
            if ((System.IO.File.GetUnixFileMode(path) & ~mode) != 0)
            {
                System.IO.File.SetUnixFileMode(path, mode);
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Not ours to change (a directory an operator shares on purpose); the files inside still are.
        }
    }
}

using OpenAiRelay.Authentication;
using OpenAiRelay.Hosting;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Authentication;

public sealed class KeyPepperTests
{
    [Fact]
    public void FirstStart_CreatesA32BytePepperReadableOnlyByTheOwner()
    {
        using var directory = new TempDataDirectory();
        var pepper = KeyPepper.Load(null, directory.Path);

        var path = directory.File(KeyPepper.FileName);
        Assert.Equal(32, pepper.Key.Length);
        Assert.Equal(pepper.Key, File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Equal(pepper.Key, KeyPepper.Load(null, directory.Path).Key);
    }

    [Fact]
    public void ConfiguredPepper_WinsAndNoFileIsCreated()
    {
        using var directory = new TempDataDirectory();
        var pepper = KeyPepper.Load(new string('p', 40), directory.Path);
        Assert.Equal(40, pepper.Key.Length);
        Assert.False(File.Exists(directory.File(KeyPepper.FileName)));
    }

    [Fact]
    public void ShortConfiguredPepper_OrDamagedFile_StopsStartup()
    {
        using var directory = new TempDataDirectory();
        Assert.Throws<RelayConfigurationException>(() => KeyPepper.Load("short", directory.Path));
        File.WriteAllBytes(directory.File(KeyPepper.FileName), new byte[5]);
        Assert.Throws<RelayConfigurationException>(() => KeyPepper.Load(null, directory.Path));
    }
}

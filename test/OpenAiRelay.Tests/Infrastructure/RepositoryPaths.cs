namespace OpenAiRelay.Tests.Infrastructure;

public static class RepositoryPaths
{
    /// <summary>The repository root: the folder holding openai-relay.slnx, found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "openai-relay.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("openai-relay.slnx not found above " + AppContext.BaseDirectory);
    }
}

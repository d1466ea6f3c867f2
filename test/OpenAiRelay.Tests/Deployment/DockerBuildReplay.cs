using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// Replays the Dockerfile's file and build steps on this machine, without a Docker engine: each stage gets a folder
/// that stands for its filesystem root; WORKDIR, ENV and COPY (from the context, honouring .dockerignore, or
/// <c>--from</c> another stage) are carried out; RUN commands of the build stages run with <c>sh -c</c>, with the
/// container paths (WORKDIRs, COPY --from sources) pointed into the stage folders. RUN steps of the runtime stage
/// (user and volume set-up on the base image) are not replayed. What comes out is exactly what the image's
/// ENTRYPOINT would start.
/// </summary>
public sealed class DockerBuildReplay
{
    private readonly Dockerfile _dockerfile;
    private readonly string _root;
    private readonly DockerIgnore _ignore;
    private readonly StringBuilder _log = new();

    public DockerBuildReplay(Dockerfile dockerfile, string root)
    {
        _dockerfile = dockerfile;
        _root = root;
        _ignore = DockerIgnore.Load(Path.Combine(RepositoryPaths.Root, ".dockerignore"));
    }

    public string Log => _log.ToString();

    /// <summary>Where a container path of <paramref name="stage"/> lives on this machine.</summary>
    public string HostPath(string stage, string containerPath) => Path.Combine(_root, stage, containerPath.TrimStart('/'));

    public async Task RunAsync()
    {
        var imageStage = _dockerfile.Stages[^1];
        foreach (var stage in _dockerfile.Stages)
        {
            var workdir = "/";
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            Directory.CreateDirectory(HostPath(stage, "/"));
            foreach (var instruction in _dockerfile.Instructions.Where(i => i.Stage == stage))
            {
                switch (instruction.Keyword)
                {
                    case "WORKDIR":
                        workdir = Resolve(workdir, instruction.Arguments);
                        Directory.CreateDirectory(HostPath(stage, workdir));
                        break;
                    case "ENV":
                        break;
                    case "COPY":
                        Copy(stage, workdir, instruction.Arguments);
                        break;
                    case "RUN" when stage != imageStage:
                        foreach (var (key, value) in _dockerfile.Environment(stage))
                        {
                            environment[key] = value;
                        }

                        await RunAsync(stage, workdir, environment, instruction.Arguments);
                        break;
                }
            }
        }
    }

    private void Copy(string stage, string workdir, string arguments)
    {
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var from = words.FirstOrDefault(w => w.StartsWith("--from=", StringComparison.Ordinal))?["--from=".Length..];
        Assert.DoesNotContain(words, w => w.StartsWith("--", StringComparison.Ordinal) && !w.StartsWith("--from=", StringComparison.Ordinal));
        words.RemoveAll(w => w.StartsWith("--", StringComparison.Ordinal));
        var destination = Resolve(workdir, words[^1]);
        var intoFolder = words[^1].EndsWith('/') || words[^1] == "." || words.Count > 2;
        foreach (var source in words.Take(words.Count - 1))
        {
            var sourcePath = from is null ? Path.Combine(RepositoryPaths.Root, source) : HostPath(from, source);
            var relative = Path.GetRelativePath(RepositoryPaths.Root, sourcePath).Replace('\\', '/');
            if (from is null && relative != ".")
            {
                Assert.False(_ignore.IsExcluded(relative), $"Dockerfile: COPY {source} names a file that .dockerignore excludes");
            }

            if (Directory.Exists(sourcePath))
            {
                CopyFolder(sourcePath, HostPath(stage, destination), fromContext: from is null);
            }
            else
            {
                Assert.True(File.Exists(sourcePath), $"Dockerfile: COPY source {source} does not exist");
                var target = intoFolder ? Path.Combine(HostPath(stage, destination), Path.GetFileName(sourcePath)) : HostPath(stage, destination);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(sourcePath, target, overwrite: true);
            }
        }
    }

    private void CopyFolder(string source, string destination, bool fromContext)
    {
        Directory.CreateDirectory(destination);
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var relative = Path.GetRelativePath(RepositoryPaths.Root, entry.FullName).Replace('\\', '/');
            if (fromContext && _ignore.IsExcluded(relative))
            {
                continue;
            }

            if (entry is DirectoryInfo folder)
            {
                CopyFolder(folder.FullName, Path.Combine(destination, folder.Name), fromContext);
            }
            else
            {
                File.Copy(entry.FullName, Path.Combine(destination, entry.Name), overwrite: true);
            }
        }
    }

    private async Task RunAsync(string stage, string workdir, Dictionary<string, string> environment, string command)
    {
        // Container paths that a build step names (its WORKDIRs, and what later stages copy out) point into the stage folder.
        var containerPaths = _dockerfile.Instructions.Where(i => i.Keyword == "WORKDIR").Select(i => i.Arguments)
            .Concat(_dockerfile.Instructions.Where(i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=" + stage + " ", StringComparison.Ordinal))
                .Select(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]))
            .Where(p => p.StartsWith('/') && p.Length > 1)
            .Distinct();
        foreach (var containerPath in containerPaths)
        {
            command = Regex.Replace(command, $@"(?<=^|\s|=){Regex.Escape(containerPath)}(?=/|\s|$)", HostPath(stage, containerPath));
        }

        var psi = new ProcessStartInfo("/bin/sh", ["-c", command])
        {
            WorkingDirectory = HostPath(stage, workdir),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        _log.AppendLine($"[{stage}] RUN {command}");
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        _log.AppendLine(await output).AppendLine(await errors);
        Assert.True(process.ExitCode == 0, $"Dockerfile step failed (exit {process.ExitCode}): RUN {command}\n{Log}");
    }

    private static string Resolve(string workdir, string path) =>
        path.StartsWith('/') ? path : Path.GetFullPath(Path.Combine(workdir, path));
}

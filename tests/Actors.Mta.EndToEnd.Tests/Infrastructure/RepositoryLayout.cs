namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>Paths of the repository files and build outputs the tests use.</summary>
public static class RepositoryLayout
{
    private const string HostAssemblyName = "actors-mta.dll";

    /// <summary>Repository root: the nearest ancestor of the test assembly's directory that contains akka.hocon.</summary>
    public static string Root => FindRoot();

    public static string RootConfigPath => Path.Combine(Root, "akka.hocon");

    /// <summary>
    /// The host assembly to run: ACTORS_MTA_HOST_DLL when set, else the Host project's own build output for this
    /// configuration, else the copy next to the test assembly (the test project references the Host project).
    /// </summary>
    public static string HostAssemblyPath => FindHostAssembly();

    /// <summary>The dotnet executable: the one that runs the tests (DOTNET_HOST_PATH) or dotnet from PATH.</summary>
    public static string DotnetPath =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "akka.hocon")) &&
                Directory.Exists(Path.Combine(directory.FullName, "src")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException(
            $"No repository root (a directory with akka.hocon and src/) above {AppContext.BaseDirectory}.");
    }

    private static string FindHostAssembly()
    {
        if (Environment.GetEnvironmentVariable("ACTORS_MTA_HOST_DLL") is { Length: > 0 } configured)
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"ACTORS_MTA_HOST_DLL is set to '{configured}', which does not exist.");
        }

        // The test assembly sits in bin/<Configuration>/<TargetFramework>/; the Host's output has the same shape.
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testOutput.Parent?.Name ?? "Debug";
        var framework = testOutput.Name;
        var candidates = new[]
        {
            Path.Combine(Root, "src", "Actors.Mta.Host", "bin", configuration, framework, HostAssemblyName),
            Path.Combine(AppContext.BaseDirectory, HostAssemblyName),
        };
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate) && File.Exists(Path.ChangeExtension(candidate, ".runtimeconfig.json")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"The server assembly was not found at {string.Join(" or ", candidates)}. " +
            "Build it with 'dotnet build src/Actors.Mta.Host' or set ACTORS_MTA_HOST_DLL.");
    }
}

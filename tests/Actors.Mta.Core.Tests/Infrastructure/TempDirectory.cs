namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>A directory under the system temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "actors-mta-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>Returns the path of <paramref name="name"/> inside this directory, creating it as a directory.</summary>
    public string Subdirectory(string name)
    {
        string path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by an actor that is shutting down; the temp directory is cleaned by the system later.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

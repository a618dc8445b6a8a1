using Actors.Mta.Core.Configuration;
using Akka.Configuration;

namespace Actors.Mta.Host;

/// <summary>Reads akka.hocon and validates the server's section before anything starts.</summary>
internal static class ServerConfiguration
{
    /// <summary>Returns the whole configuration and the validated settings, or throws <see cref="InvalidConfigurationException"/>.</summary>
    public static (Config Config, MtaSettings Settings) Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidConfigurationException("--config", $"file {path} not found; run from the directory that holds akka.hocon or pass --config PATH");
        }

        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidConfigurationException("(file)", $"cannot parse {path}: {ex.Message}");
        }

        var settings = MtaSettings.Load(config, Directory.GetCurrentDirectory());
        return (config, settings);
    }
}

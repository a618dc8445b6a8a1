using Actors.Mta.Core.Configuration;
using Akka.Configuration;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>Builds configurations from the repository's akka.hocon, the file the server ships with.</summary>
internal static class TestConfig
{
    private static readonly Lazy<string> RootTextCache = new(() => File.ReadAllText(RootHoconPath));

    /// <summary>Settings for the actor system of every test kit: the Serilog formatter accepts the actors' named templates.</summary>
    public const string ActorSystemConfig = """
        akka.loglevel = INFO
        akka.logger-formatter = "Akka.Logger.Serilog.SerilogLogMessageFormatter, Akka.Logger.Serilog"
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        """;

    /// <summary>Path of the root akka.hocon, found by walking up from the test binaries to Actors.Mta.sln.</summary>
    public static string RootHoconPath
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Actors.Mta.sln")))
                {
                    return Path.Combine(directory.FullName, "akka.hocon");
                }
            }

            throw new FileNotFoundException("Actors.Mta.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The text of the root akka.hocon.</summary>
    public static string RootText => RootTextCache.Value;

    /// <summary>The root configuration with <paramref name="overrides"/> (HOCON) taking precedence.</summary>
    public static Config Build(string overrides = "") =>
        ConfigurationFactory.ParseString(overrides).WithFallback(ConfigurationFactory.ParseString(RootText));

    /// <summary>Loads settings from the root configuration with <paramref name="overrides"/>.</summary>
    public static MtaSettings Load(string overrides = "") => MtaSettings.Load(Build(overrides), Path.GetTempPath());

    /// <summary>Quotes a path or other text as a HOCON string.</summary>
    public static string Quote(string text) => "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

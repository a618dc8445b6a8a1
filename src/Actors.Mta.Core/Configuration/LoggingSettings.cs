using Serilog.Events;

namespace Actors.Mta.Core.Configuration;

/// <summary>Layout of the log lines on standard output.</summary>
public enum LogFormat
{
    /// <summary>Plain text; with syslog priority prefixes when standard output is connected to the systemd journal.</summary>
    Text,

    /// <summary>One JSON object per line, in Serilog's compact format (CLEF).</summary>
    Json,
}

/// <summary>Settings of the server's log output, from the actors-mta.logging section.</summary>
/// <param name="MinimumLevel">Least severe level written for sources without an override.</param>
/// <param name="Overrides">Minimum level per source: a prefix of the Serilog source context, such as "Akka" or "Microsoft.Hosting".</param>
public sealed record LoggingSettings(LogFormat Format, LogEventLevel MinimumLevel, IReadOnlyDictionary<string, LogEventLevel> Overrides)
{
    private static readonly Dictionary<string, LogEventLevel> Levels =
        Enum.GetValues<LogEventLevel>().ToDictionary(level => level.ToString().ToLowerInvariant(), level => level);

    private static readonly string LevelNames = string.Join(", ", Levels.Keys);

    internal static LoggingSettings Read(SettingsReader reader)
    {
        var format = reader.Enum("logging.format", new Dictionary<string, LogFormat>
        {
            ["text"] = LogFormat.Text,
            ["json"] = LogFormat.Json,
        });
        var minimum = ParseLevel(reader.String("logging.minimum-level"), MtaSettings.Section + ".logging.minimum-level");
        var overrides = new Dictionary<string, LogEventLevel>(StringComparer.Ordinal);
        foreach (var (source, value) in reader.Object("logging.overrides"))
        {
            string key = $"{MtaSettings.Section}.logging.overrides.\"{source}\"";
            if (!value.IsString())
            {
                // HOCON reads an unquoted Akka.Actor as the path Akka -> Actor, which arrives here as an object.
                throw new InvalidConfigurationException(key,
                    $"expected a level ({LevelNames}); quote a source name that contains dots, as in \"Akka.Actor\" = warning");
            }

            overrides[source] = ParseLevel(value.GetString(), key);
        }

        return new LoggingSettings(format, minimum, overrides);
    }

    private static LogEventLevel ParseLevel(string text, string key) =>
        Levels.TryGetValue(text.ToLowerInvariant(), out var level)
            ? level
            : throw new InvalidConfigurationException(key, $"invalid level \"{text}\", expected one of {LevelNames}");
}

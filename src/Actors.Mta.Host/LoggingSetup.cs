using Actors.Mta.Core.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;

namespace Actors.Mta.Host;

/// <summary>Creates the Serilog logger that writes the server's log to standard output, as actors-mta.logging sets it.</summary>
internal static class LoggingSetup
{
    private const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}";

    /// <summary>The settings in force until the configuration file is read, the same as akka.hocon's defaults.</summary>
    public static readonly LoggingSettings Defaults = new(
        LogFormat.Text,
        LogEventLevel.Information,
        new Dictionary<string, LogEventLevel> { ["Microsoft"] = LogEventLevel.Warning });

    /// <summary>Replaces <see cref="Log.Logger"/> with a logger made from <paramref name="settings"/> and flushes the one it replaces.</summary>
    public static void Apply(LoggingSettings settings)
    {
        var previous = Log.Logger;
        Log.Logger = Create(settings);
        (previous as IDisposable)?.Dispose();
    }

    public static Logger Create(LoggingSettings settings)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(settings.MinimumLevel)
            .Enrich.FromLogContext();
        foreach (var (source, level) in settings.Overrides)
        {
            configuration.MinimumLevel.Override(source, level);
        }

        ITextFormatter? formatter = settings.Format switch
        {
            LogFormat.Json => new CompactJsonFormatter(),
            _ when JournalTextFormatter.IsStandardOutputJournal() => new JournalTextFormatter(),
            _ => null,
        };
        var sinks = configuration.WriteTo;
        return (formatter is null ? sinks.Console(outputTemplate: TextTemplate) : sinks.Console(formatter)).CreateLogger();
    }
}

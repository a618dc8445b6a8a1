using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace Actors.Mta.Host;

/// <summary>
/// Formats events for the systemd journal: each line starts with the syslog priority "&lt;N&gt;" that journald
/// reads as the level of a line on a service's standard output (sd-daemon(3), SyslogLevelPrefix= in
/// systemd.exec(5)). An exception's stack trace spans several lines, so every line gets the prefix, or journald
/// would log the trace at its default priority, info. No timestamp: the journal adds its own.
/// </summary>
internal sealed class JournalTextFormatter : ITextFormatter
{
    private readonly MessageTemplateTextFormatter _inner = new("{Message:lj}{NewLine}{Exception}");

    public void Format(LogEvent logEvent, TextWriter output)
    {
        var text = new StringWriter();
        _inner.Format(logEvent, text);
        string prefix = Priority(logEvent.Level);
        foreach (string line in text.ToString().Split('\n'))
        {
            string trimmed = line.TrimEnd('\r');
            if (trimmed.Length > 0)
            {
                output.Write(prefix);
                output.Write(trimmed);
                output.Write('\n');
            }
        }
    }

    /// <summary>
    /// Tells whether standard output is the journal's stream socket: systemd sets JOURNAL_STREAM to its
    /// "DEVICE:INODE" (systemd.exec(5)). A child process may inherit the variable with its output sent
    /// elsewhere, so the inode of descriptor 1 must match as well.
    /// </summary>
    public static bool IsStandardOutputJournal()
    {
        string? stream = Environment.GetEnvironmentVariable("JOURNAL_STREAM");
        int colon = stream?.IndexOf(':') ?? -1;
        if (colon < 0)
        {
            return false;
        }

        try
        {
            // On Linux, /proc/self/fd/1 links to "socket:[INODE]" when standard output is a socket.
            string? target = new FileInfo("/proc/self/fd/1").LinkTarget;
            return target == $"socket:[{stream![(colon + 1)..]}]";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // Syslog severities (RFC 5424 section 6.2.1): 2 critical, 3 error, 4 warning, 6 informational, 7 debug.
    private static string Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Fatal => "<2>",
        LogEventLevel.Error => "<3>",
        LogEventLevel.Warning => "<4>",
        LogEventLevel.Information => "<6>",
        _ => "<7>",
    };
}

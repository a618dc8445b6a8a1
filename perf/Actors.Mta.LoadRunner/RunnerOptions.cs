using System.Globalization;
using System.Net;
using Actors.Mta.LoadRunner.Scenarios;

namespace Actors.Mta.LoadRunner;

/// <summary>The runner's command-line options, parsed and checked.</summary>
public sealed class RunnerOptions
{
    private const double MaxDurationSeconds = 24 * 3600;

    public const string Usage = """
        usage: actors-mta-loadrunner --target ADDRESS:PORT --to ADDRESS [options]

        Load: a closed model keeps --sessions sessions busy; an open model starts --rate new sessions per
        second whatever the server's speed. Every run stops at --duration or after --messages messages,
        whichever comes first; sessions still in a transaction then get --timeout to finish.

          --target ADDRESS:PORT       SMTP server to load; IPv6 as [::1]:2525 (required)
          --allow-non-loopback        allow a target outside 127.0.0.0/8 and ::1
          --scenario NAME             send (default): messages; hold: connect, EHLO and stay idle until the end
          --sessions N                closed model: concurrent sessions (default 10)
          --rate N                    open model: new sessions per second (replaces --sessions)
          --max-sessions N            open model: sessions open at once, at most; a start beyond it is
                                      skipped and counted (default 1000)
          --ramp DURATION             raise sessions (closed) or the rate (open) from 0 over this time (default 0)
          --warmup DURATION           leave samples that start in this first period out of the results (default 0)
          --duration DURATION         stop starting work after this time (default 60s, at most 24h)
          --messages N                stop after starting this many messages, warm-up included (default 10000)
          --messages-per-session N    messages per connection, then QUIT and reconnect; 0 keeps one
                                      connection to the end (default: 0 closed, 1 open)
          --size BYTES                size of each generated message, header included (default 5120)
          --corpus FOLDER             send the files of FOLDER in turn instead of generated messages
          --recipients N              RCPTs per message (default 1)
          --to ADDRESS                recipient; repeat for several. With fewer addresses than --recipients,
                                      the rest are LOCAL-N@DOMAIN from the first one (required for send)
          --from ADDRESS              sender (default loadrunner@example.org)
          --helo NAME                 EHLO name (default loadrunner.test)
          --pipelining                send MAIL, RCPT and DATA in one write when the server offers PIPELINING
          --timeout DURATION          wait for each reply, at most (default 60s)
          --report-dir FOLDER         write report.md, report.html and report.json here (default loadrunner-report)
          --title TEXT                heading of the reports
          --ready-file PATH           write this file once every session of the load has finished its
                                      opening steps (connect and EHLO), for scripts that sample the server then
          --no-progress               no progress line on stderr

        DURATION is a number with ms, s, m or h (500ms, 30s, 2m); a bare number is seconds.
        Exit status: 0 when the run completed (failures are in the reports), 2 for invalid options.
        """;

    public IPEndPoint Target { get; private set; } = null!;

    public bool AllowNonLoopback { get; private set; }

    public string Scenario { get; private set; } = SmtpScenarios.SendName;

    public int Sessions { get; private set; } = 10;

    /// <summary>New sessions per second, or 0 for the closed model.</summary>
    public double Rate { get; private set; }

    public int MaxSessions { get; private set; } = 1000;

    public TimeSpan Ramp { get; private set; } = TimeSpan.Zero;

    public TimeSpan Warmup { get; private set; } = TimeSpan.Zero;

    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(60);

    public long Messages { get; private set; } = 10_000;

    /// <summary>Messages per connection; 0 keeps the connection for the whole run.</summary>
    public int MessagesPerSession { get; private set; }

    public int Size { get; private set; } = 5120;

    public string? Corpus { get; private set; }

    public int Recipients { get; private set; } = 1;

    public IReadOnlyList<string> To { get; private set; } = [];

    public string From { get; private set; } = "loadrunner@example.org";

    public string Helo { get; private set; } = "loadrunner.test";

    public bool Pipelining { get; private set; }

    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(60);

    public string ReportDirectory { get; private set; } = "loadrunner-report";

    public string? Title { get; private set; }

    public string? ReadyFile { get; private set; }

    public bool Progress { get; private set; } = true;

    public bool IsOpenModel => Rate > 0;

    public string CommandLine { get; private set; } = "";

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="UsageException">An option is unknown, misses its value, or has an invalid value.</exception>
    public static RunnerOptions Parse(IReadOnlyList<string> args)
    {
        var options = new RunnerOptions { CommandLine = string.Join(' ', args) };
        var to = new List<string>();
        int? messagesPerSession = null;
        var sessionsGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"The option {name} needs a value.");
                }

                return args[++i];
            }

            switch (name)
            {
                case "--target":
                    options.Target = ParseEndpoint(Value());
                    break;
                case "--allow-non-loopback":
                    options.AllowNonLoopback = true;
                    break;
                case "--scenario":
                    options.Scenario = Value() switch
                    {
                        SmtpScenarios.SendName => SmtpScenarios.SendName,
                        SmtpScenarios.HoldName => SmtpScenarios.HoldName,
                        var other => throw new UsageException($"Unknown scenario '{other}'; use send or hold."),
                    };
                    break;
                case "--sessions":
                    options.Sessions = ParseInt(name, Value(), 1, 1_000_000);
                    sessionsGiven = true;
                    break;
                case "--rate":
                    options.Rate = ParseDouble(name, Value(), 0.001, 1_000_000);
                    break;
                case "--max-sessions":
                    options.MaxSessions = ParseInt(name, Value(), 1, 1_000_000);
                    break;
                case "--ramp":
                    options.Ramp = ParseDuration(name, Value(), allowZero: true);
                    break;
                case "--warmup":
                    options.Warmup = ParseDuration(name, Value(), allowZero: true);
                    break;
                case "--duration":
                    options.Duration = ParseDuration(name, Value(), allowZero: false);
                    break;
                case "--messages":
                    options.Messages = ParseInt(name, Value(), 1, int.MaxValue);
                    break;
                case "--messages-per-session":
                    messagesPerSession = ParseInt(name, Value(), 0, int.MaxValue);
                    break;
                case "--size":
                    options.Size = ParseInt(name, Value(), 1, int.MaxValue - 16);
                    break;
                case "--corpus":
                    options.Corpus = Value();
                    break;
                case "--recipients":
                    options.Recipients = ParseInt(name, Value(), 1, 1000);
                    break;
                case "--to":
                    to.Add(ParseAddress(name, Value()));
                    break;
                case "--from":
                    options.From = ParseAddress(name, Value());
                    break;
                case "--helo":
                    options.Helo = Value();
                    break;
                case "--pipelining":
                    options.Pipelining = true;
                    break;
                case "--timeout":
                    options.Timeout = ParseDuration(name, Value(), allowZero: false);
                    break;
                case "--report-dir":
                    options.ReportDirectory = Value();
                    break;
                case "--title":
                    options.Title = Value();
                    break;
                case "--ready-file":
                    options.ReadyFile = Value();
                    break;
                case "--no-progress":
                    options.Progress = false;
                    break;
                default:
                    throw new UsageException($"Unknown option '{name}'.");
            }
        }

        if (options.Target is null)
        {
            throw new UsageException("The option --target is required.");
        }

        if (!options.AllowNonLoopback && !IPAddress.IsLoopback(options.Target.Address))
        {
            throw new UsageException(
                $"The target {options.Target} is not a loopback address; pass --allow-non-loopback to load another host.");
        }

        if (options.Scenario == SmtpScenarios.SendName && to.Count == 0)
        {
            throw new UsageException("The send scenario needs at least one --to address.");
        }

        if (options.Rate > 0 && sessionsGiven)
        {
            throw new UsageException("Give --sessions (closed model) or --rate (open model), not both.");
        }

        options.To = to;
        options.MessagesPerSession = messagesPerSession ?? (options.IsOpenModel ? 1 : 0);
        options.Title ??= $"{options.Scenario} against {options.Target}";
        return options;
    }

    /// <summary>
    /// Returns the recipients of each message: the --to addresses in turn, then LOCAL-N@DOMAIN of the first one
    /// until there are <see cref="Recipients"/> of them.
    /// </summary>
    public IReadOnlyList<string> RecipientsPerMessage()
    {
        var recipients = new List<string>(Recipients);
        for (var i = 0; i < Recipients; i++)
        {
            if (i < To.Count)
            {
                recipients.Add(To[i]);
                continue;
            }

            var first = To[0];
            var at = first.LastIndexOf('@');
            recipients.Add($"{first[..at]}-{i}{first[at..]}");
        }

        return recipients;
    }

    private static IPEndPoint ParseEndpoint(string text)
    {
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
        {
            text = "127.0.0.1" + text["localhost".Length..];
        }

        if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0)
        {
            throw new UsageException($"Invalid --target '{text}': expected ADDRESS:PORT with an IP address, such as 127.0.0.1:2525 or [::1]:2525.");
        }

        return endpoint;
    }

    private static string ParseAddress(string name, string text)
    {
        var at = text.LastIndexOf('@');
        if (at <= 0 || at == text.Length - 1 || text.Any(c => c is '<' or '>' or ' ' or '\r' or '\n'))
        {
            throw new UsageException($"Invalid {name} '{text}': expected a mailbox such as alice@example.com, without angle brackets.");
        }

        return text;
    }

    private static int ParseInt(string name, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"Invalid {name} '{text}': expected a whole number from {min} to {max}.");
        }

        return value;
    }

    private static double ParseDouble(string name, string text, double min, double max)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"Invalid {name} '{text}': expected a number from {min} to {max}.");
        }

        return value;
    }

    /// <summary>Parses 500ms, 30s, 2m, 1h or a bare number of seconds.</summary>
    public static TimeSpan ParseDuration(string name, string text, bool allowZero)
    {
        var (number, unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ when text.EndsWith('h') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ||
            value < 0 || (value == 0 && !allowZero) || value * unit > MaxDurationSeconds)
        {
            throw new UsageException(
                $"Invalid {name} '{text}': expected a {(allowZero ? "" : "positive ")}duration of at most 24h, such as 500ms, 30s or 2m.");
        }

        return TimeSpan.FromSeconds(value * unit);
    }
}

/// <summary>An invalid command line; the message names the option and the expected value.</summary>
public sealed class UsageException(string message) : Exception(message);

using System.Text;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Spool;

namespace Actors.Mta.Host;

/// <summary>
/// The "actors-mta queue" verb: lists and shows queued messages by reading the spool, and requests retries
/// and deletions from the running server by leaving request files in spool/control. The tool never changes a queue
/// file itself, so it cannot race with the server's own updates.
/// </summary>
internal static class QueueCommand
{
    // Exit codes follow sysexits.h, like the server's: 64 for a bad command line, 78 for a bad configuration.
    private const int ExitOk = 0;
    private const int ExitError = 1;
    private const int ExitUsage = 64;
    private const int ExitConfig = 78;

    private const int MaxQueueIdLength = 64;

    public const string Usage =
        "Usage: actors-mta queue list [--config PATH]\n" +
        "       actors-mta queue show ID [--config PATH]\n" +
        "       actors-mta queue retry ID|--all [--config PATH]\n" +
        "       actors-mta queue delete ID [--config PATH]\n" +
        "  list     print the envelope of every queued message\n" +
        "  show     print one message's envelope and then its data\n" +
        "  retry    ask the running server to attempt delivery now, of one message or of all (--all)\n" +
        "  delete   ask the running server to remove a message from the queue without notifying anyone\n" +
        "  --config PATH   the server's configuration file (default: akka.hocon in the working directory)\n" +
        "  --help          show this text";

    private sealed record Arguments(string Verb, string? QueueId, bool All, string ConfigPath);

    /// <summary>
    /// Runs the verb in <paramref name="args"/> (the words after "queue") and returns the process exit code.
    /// Text and message data go to <paramref name="output"/> as bytes, and errors go to <paramref name="error"/>.
    /// </summary>
    public static int Run(string[] args, Stream output, TextWriter error)
    {
        if (args.Any(a => a is "--help" or "-h" or "help"))
        {
            WriteText(output, Usage + "\n");
            return ExitOk;
        }

        if (!TryParse(args, out var arguments, out string usageError))
        {
            error.WriteLine("actors-mta queue: " + usageError);
            error.WriteLine(Usage);
            return ExitUsage;
        }

        MtaSettings settings;
        try
        {
            (_, settings) = ServerConfiguration.Load(arguments.ConfigPath);
        }
        catch (InvalidConfigurationException ex)
        {
            error.WriteLine($"actors-mta queue: invalid configuration in {arguments.ConfigPath}: {ex.Message}");
            return ExitConfig;
        }

        var store = new SpoolStore(settings.SpoolDirectory);
        if (!Directory.Exists(store.Queue))
        {
            error.WriteLine(
                $"actors-mta queue: queue directory {store.Queue} does not exist. The server creates it at its first start; " +
                "a relative spool-directory is resolved against the working directory, so run this command from the server's.");
            return ExitError;
        }

        try
        {
            return arguments.Verb switch
            {
                "list" => List(store, output, error),
                "show" => Show(store, arguments.QueueId!, output, error),
                "retry" when arguments.All => Request(store, settings, "retry-all", "a retry of every queued message", output),
                "retry" => RequestFor(store, settings, "retry", arguments.QueueId!, output, error),
                _ => RequestFor(store, settings, "delete", arguments.QueueId!, output, error),
            };
        }
        catch (UnauthorizedAccessException ex)
        {
            error.WriteLine($"actors-mta queue {arguments.Verb}: {ex.Message} Run the command as the user the server runs as.");
            return ExitError;
        }
        catch (IOException ex)
        {
            error.WriteLine($"actors-mta queue {arguments.Verb}: {ex.Message}");
            return ExitError;
        }
    }

    private static bool TryParse(string[] args, out Arguments arguments, out string error)
    {
        arguments = new Arguments("", null, false, "");
        string configPath = Path.Combine(Directory.GetCurrentDirectory(), "akka.hocon");
        bool all = false;
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    configPath = Path.GetFullPath(args[++i]);
                    break;
                case "--all":
                    all = true;
                    break;
                case { Length: > 0 } option when option[0] == '-':
                    error = $"unknown or incomplete option: {option}";
                    return false;
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        if (positional.Count == 0)
        {
            error = "missing verb: expected list, show, retry or delete";
            return false;
        }

        string verb = positional[0];
        var operands = positional.Skip(1).ToList();
        error = (verb, operands.Count, all) switch
        {
            ("list", 0, false) => "",
            ("retry", 0, true) => "",
            ("show" or "retry" or "delete", 1, false) => ValidateQueueId(operands[0]),
            ("retry", _, true) => "retry takes either a queue id or --all, not both",
            ("list" or "show" or "retry" or "delete", _, _) when all => $"--all applies only to retry, not to {verb}",
            ("list", _, _) => "list takes no queue id",
            ("show" or "retry" or "delete", 0, _) => $"{verb} needs a queue id",
            ("show" or "retry" or "delete", _, _) => $"{verb} takes one queue id, got {operands.Count}",
            _ => $"unknown verb \"{verb}\": expected list, show, retry or delete",
        };
        if (error.Length > 0)
        {
            return false;
        }

        arguments = new Arguments(verb, operands.FirstOrDefault(), all, configPath);
        return true;
    }

    // The id becomes part of a file name in spool/queue and spool/control, so anything but letters and
    // digits (a slash or "..", say) is rejected before it reaches a path.
    private static string ValidateQueueId(string queueId)
    {
        bool valid = queueId.Length is > 0 and <= MaxQueueIdLength && queueId.All(char.IsAsciiLetterOrDigit);
        return valid ? "" : $"invalid queue id \"{queueId}\": expected the letters and digits that list prints";
    }

    private static int List(SpoolStore store, Stream output, TextWriter error)
    {
        using var writer = NewWriter(output);
        var now = DateTimeOffset.UtcNow;
        int count = 0;
        long totalSize = 0;
        int unreadable = 0;
        foreach (string queueId in QueueReport.EnumerateQueueIds(store))
        {
            var result = QueueReport.TryReadEnvelope(store, queueId);
            if (result.Entry is { } entry)
            {
                QueueReport.WriteEntry(writer, entry, now);
                writer.WriteLine();
                count++;
                totalSize += entry.Size;
            }
            else if (result.Problem is { } problem)
            {
                error.WriteLine($"actors-mta queue list: skipped {store.EnvelopePath(queueId)}: {problem}");
                unreadable++;
            }
        }

        writer.WriteLine(QueueReport.Summary(count, totalSize, unreadable));
        return ExitOk;
    }

    private static int Show(SpoolStore store, string queueId, Stream output, TextWriter error)
    {
        var result = QueueReport.TryReadEnvelope(store, queueId);
        if (result.Entry is not { } entry)
        {
            error.WriteLine(result.Problem is { } problem
                ? $"actors-mta queue show: cannot read {store.EnvelopePath(queueId)}: {problem}"
                : NotFound(store, queueId));
            return ExitError;
        }

        FileStream data;
        try
        {
            // Once open, the data stays readable even if the server delivers and removes the message meanwhile.
            data = new FileStream(store.DataPath(queueId), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            error.WriteLine($"actors-mta queue show: message {queueId} left the queue while it was being read");
            return ExitError;
        }

        using (data)
        {
            using (var writer = NewWriter(output))
            {
                QueueReport.WriteEntry(writer, entry, DateTimeOffset.UtcNow, includeDetails: true);
                writer.WriteLine();
                writer.WriteLine($"*** message data, {data.Length} bytes, {store.DataPath(queueId)} ***");
            }

            data.CopyTo(output);
            output.Flush();
        }

        return ExitOk;
    }

    private static int RequestFor(SpoolStore store, MtaSettings settings, string action, string queueId, Stream output, TextWriter error)
    {
        if (!File.Exists(store.EnvelopePath(queueId)))
        {
            error.WriteLine(NotFound(store, queueId));
            return ExitError;
        }

        string description = action == "retry" ? $"a retry of {queueId}" : $"the deletion of {queueId}";
        return Request(store, settings, $"{action}-{queueId}", description, output);
    }

    /// <summary>
    /// Leaves the request file spool/control/<paramref name="name"/> for the server's next queue scan. The
    /// file is written under a temporary name in the spool root and renamed into control/, because the
    /// server deletes every file in control/ at each scan and could remove one still being written.
    /// </summary>
    private static int Request(SpoolStore store, MtaSettings settings, string name, string description, Stream output)
    {
        string control = Path.Combine(store.Root, "control");
        Directory.CreateDirectory(control);
        string temporary = Path.Combine(store.Root, $".{name}.{Environment.ProcessId}.tmp");
        string path = Path.Combine(control, name);
        File.WriteAllText(temporary, $"requested {DateTimeOffset.UtcNow:u} by actors-mta queue\n");
        File.Move(temporary, path, overwrite: true);

        using var writer = NewWriter(output);
        writer.WriteLine($"Requested {description} ({path}).");
        writer.WriteLine(
            $"The running server acts on it within its queue scan interval ({QueueReport.FormatDuration(settings.QueueScanInterval)}); " +
            "if the server is not running, the request waits until it starts.");
        return ExitOk;
    }

    private static string NotFound(SpoolStore store, string queueId) =>
        $"actors-mta queue: message {queueId} not found in {store.Queue}; it may have been delivered or removed already";

    private static StreamWriter NewWriter(Stream output) =>
        new(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 65536, leaveOpen: true);

    private static void WriteText(Stream output, string text)
    {
        using var writer = NewWriter(output);
        writer.Write(text);
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Actors.Mta.Core.Spool;

namespace Actors.Mta.Host;

/// <summary>
/// Reads queue envelopes for the queue command and formats them for people. Only the .env files are read,
/// never the message data, so listing a large queue costs one small file per message.
/// </summary>
internal static class QueueReport
{
    private const string EnvelopeExtension = ".env";

    // SpoolStore serializes with default options, so property names are as declared.
    private static readonly JsonSerializerOptions Json = new();

    /// <summary>An envelope read from the queue, or the reason it could not be read. Both are null when the file is gone.</summary>
    public sealed record ReadResult(QueueEntry? Entry, string? Problem);

    /// <summary>
    /// Returns the id of every envelope in the queue, sorted. Queue ids begin with the arrival time in
    /// milliseconds, so this is arrival order. Only names are held in memory, not envelopes.
    /// </summary>
    public static List<string> EnumerateQueueIds(SpoolStore store)
    {
        var ids = new List<string>();
        foreach (string path in Directory.EnumerateFiles(store.Queue))
        {
            // The server writes each envelope to ID.env.tmp and then renames it over ID.env in one step,
            // so skipping the .tmp files leaves only complete envelopes.
            if (path.EndsWith(EnvelopeExtension, StringComparison.Ordinal))
            {
                ids.Add(Path.GetFileName(path)[..^EnvelopeExtension.Length]);
            }
        }

        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    /// <summary>
    /// Reads one envelope. A file that is gone (delivered or deleted since the directory was listed) gives
    /// an empty result, and a file that cannot be parsed gives the parser's message.
    /// </summary>
    public static ReadResult TryReadEnvelope(SpoolStore store, string queueId)
    {
        try
        {
            using var file = new FileStream(store.EnvelopePath(queueId), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var entry = JsonSerializer.Deserialize<QueueEntry>(file, Json);
            return entry is null ? new ReadResult(null, "the file contains null") : new ReadResult(entry, null);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new ReadResult(null, null);
        }
        catch (JsonException ex)
        {
            return new ReadResult(null, "invalid envelope: " + ex.Message);
        }
    }

    /// <summary>
    /// Writes one message's block: id, size, arrival and age, sender, attempts and next attempt, then each
    /// pending recipient with its last reply. <paramref name="includeDetails"/> adds the MAIL parameters.
    /// </summary>
    public static void WriteEntry(TextWriter writer, QueueEntry entry, DateTimeOffset now, bool includeDetails = false)
    {
        string kind = entry.IsNotification ? "  (delivery status notification)" : "";

        // NOTE: the queue manager stores Size = 0 for the notifications it makes, and no message is empty,
        // so 0 means the size was not recorded.
        string size = entry.Size == 0 ? "size not recorded" : $"{entry.Size} bytes";
        writer.WriteLine($"{Printable(entry.QueueId)}  {size}  arrived {FormatTime(entry.ArrivalTime)}, {FormatDuration(now - entry.ArrivalTime)} ago{kind}");
        writer.WriteLine($"  from: <{Printable(entry.Sender)}>");
        if (includeDetails && entry.MailParameters.Count > 0)
        {
            var parameters = entry.MailParameters.Select(p => p.Value is null ? p.Key : $"{p.Key}={p.Value}");
            writer.WriteLine($"  MAIL parameters: {Printable(string.Join(" ", parameters))}");
        }

        writer.WriteLine($"  attempts: {entry.Attempts}, next attempt {FormatNextAttempt(entry.NextAttempt, now)}");
        foreach (var recipient in entry.Recipients)
        {
            writer.WriteLine($"  to: <{Printable(recipient.Address)}>");
            writer.WriteLine($"      last reply: {(recipient.LastReply is null ? "(none yet)" : Printable(recipient.LastReply))}");
        }
    }

    /// <summary>Returns the final line of a listing.</summary>
    public static string Summary(int count, long totalSize, int unreadable)
    {
        string text = count == 0
            ? "-- Queue is empty"
            : $"-- {count} {(count == 1 ? "message" : "messages")}, {totalSize} bytes in total";
        return unreadable == 0 ? text : $"{text} ({unreadable} unreadable envelope(s) skipped, see the errors above)";
    }

    /// <summary>Formats a duration with its two largest units, such as "3d4h", "2h5m", "5m12s" or "12s".</summary>
    public static string FormatDuration(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        if (duration.TotalDays >= 1)
        {
            return $"{(int)duration.TotalDays}d{duration.Hours}h";
        }

        if (duration.TotalHours >= 1)
        {
            return $"{duration.Hours}h{duration.Minutes}m";
        }

        if (duration.TotalMinutes >= 1)
        {
            return $"{duration.Minutes}m{duration.Seconds}s";
        }

        if (duration.TotalSeconds >= 1)
        {
            return $"{duration.Seconds}s";
        }

        return $"{(int)duration.TotalMilliseconds}ms";
    }

    private static string FormatNextAttempt(DateTimeOffset nextAttempt, DateTimeOffset now) =>
        nextAttempt <= now
            ? $"{FormatTime(nextAttempt)} (due at the next queue scan)"
            : $"{FormatTime(nextAttempt)} (in {FormatDuration(nextAttempt - now)})";

    private static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // Addresses come from SMTP clients and last replies from remote servers, so control characters are
    // printed as \xNN escapes and cannot drive the operator's terminal.
    private static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var printable = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            if (char.IsControl(c))
            {
                printable.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            }
            else
            {
                printable.Append(c);
            }
        }

        return printable.ToString();
    }
}

using System.Text.Json;

namespace Actors.Mta.Core.Spool;

/// <summary>
/// The spool's folders and the durable writes in them. A queued message is two files in queue/: ID.eml with
/// the data and ID.env with the <see cref="QueueEntry"/>. The data is made durable first and the envelope last,
/// so an .env file on disk always has its complete data next to it. Every call here blocks on the disk:
/// callers run them off the actor threads.
/// </summary>
public sealed class SpoolStore
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public SpoolStore(string root)
    {
        Root = root;
        Incoming = Path.Combine(root, "incoming");
        Queue = Path.Combine(root, "queue");
        DeadLetter = Path.Combine(root, "dead-letter");
        Control = Path.Combine(root, "control");
    }

    public string Root { get; }

    /// <summary>Messages being received or delivered while the client waits; nothing here got a 250 by itself.</summary>
    public string Incoming { get; }

    /// <summary>Messages accepted and waiting for delivery.</summary>
    public string Queue { get; }

    /// <summary>Notifications that could not be delivered or sent, kept for the operator.</summary>
    public string DeadLetter { get; }

    /// <summary>Requests from the queue command (retry, delete) for the running server to carry out.</summary>
    public string Control { get; }

    public string DataPath(string queueId) => Path.Combine(Queue, queueId + ".eml");

    public string EnvelopePath(string queueId) => Path.Combine(Queue, queueId + ".env");

    public void CreateDirectories()
    {
        Directory.CreateDirectory(Incoming);
        Directory.CreateDirectory(Queue);
        Directory.CreateDirectory(DeadLetter);

        // Made by the server, so it is owned by the server's user even when an operator's queue command runs first.
        Directory.CreateDirectory(Control);
    }

    /// <summary>
    /// Puts a received message into the queue (a file in incoming/ is moved, data in memory is written) and
    /// writes its envelope, both fsynced with their directory entries, so the message survives a crash from
    /// the moment this returns.
    /// </summary>
    /// <param name="syncDirectories">
    /// False leaves the fsync of the two directories to a following <see cref="SyncDirectories"/>, so a group of
    /// messages shares it (group commit). The files themselves are always fsynced here.
    /// </param>
    public void Enqueue(MessageData message, QueueEntry entry, bool syncDirectories = true)
    {
        if (message.File is { } incomingFile)
        {
            using (var data = new FileStream(incomingFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
            {
                data.Flush(flushToDisk: true);
            }

            File.Move(incomingFile, DataPath(entry.QueueId), overwrite: true);
        }
        else
        {
            message.WriteTo(DataPath(entry.QueueId), flushToDisk: true);
        }

        WriteEnvelope(entry, syncDirectory: false);
        if (syncDirectories)
        {
            SyncDirectories();
        }
    }

    /// <summary>Fsyncs queue/ and incoming/, so the renames and new files in them survive a crash.</summary>
    public void SyncDirectories()
    {
        Fsync.Directory(Queue);
        Fsync.Directory(Incoming);
    }

    /// <summary>Writes a new data file straight into the queue (for notifications) together with its envelope.</summary>
    public void EnqueueNew(byte[] message, QueueEntry entry, bool syncDirectories = true)
    {
        using (var data = new FileStream(DataPath(entry.QueueId), FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            data.Write(message);
            data.Flush(flushToDisk: true);
        }

        WriteEnvelope(entry, syncDirectory: syncDirectories);
    }

    /// <summary>Replaces the envelope atomically: a crash leaves either the old or the new one.</summary>
    public void WriteEnvelope(QueueEntry entry, bool syncDirectory = true)
    {
        string path = EnvelopePath(entry.QueueId);
        string temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, entry, Json);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        if (syncDirectory)
        {
            Fsync.Directory(Queue);
        }
    }

    /// <summary>Removes a message from the queue, envelope first, so a crash in between leaves only an orphan data file.</summary>
    public void Remove(string queueId)
    {
        File.Delete(EnvelopePath(queueId));
        File.Delete(DataPath(queueId));
    }

    /// <summary>Moves a message's data to the dead-letter folder and drops its envelope.</summary>
    public void MoveToDeadLetter(string queueId)
    {
        if (File.Exists(DataPath(queueId)))
        {
            File.Move(DataPath(queueId), Path.Combine(DeadLetter, queueId + ".eml"), overwrite: true);
        }

        File.Delete(EnvelopePath(queueId));
        Fsync.Directory(DeadLetter);
    }

    /// <summary>
    /// Reads every envelope in the queue, without touching message data. Data files without an envelope
    /// are leftovers of a crash during enqueue or removal and are deleted; unreadable envelopes are reported.
    /// </summary>
    public (List<QueueEntry> Entries, List<string> Unreadable) LoadAll()
    {
        var entries = new List<QueueEntry>();
        var unreadable = new List<string>();
        foreach (string path in Directory.EnumerateFiles(Queue, "*.env"))
        {
            try
            {
                using var file = File.OpenRead(path);
                var entry = JsonSerializer.Deserialize<QueueEntry>(file, Json);
                if (entry is null || !File.Exists(DataPath(entry.QueueId)))
                {
                    unreadable.Add(path);
                    continue;
                }

                entries.Add(entry);
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                unreadable.Add(path);
            }
        }

        foreach (string path in Directory.EnumerateFiles(Queue, "*.eml"))
        {
            if (!File.Exists(Path.ChangeExtension(path, ".env")))
            {
                File.Delete(path);
            }
        }

        foreach (string path in Directory.EnumerateFiles(Queue, "*.tmp"))
        {
            File.Delete(path);
        }

        return (entries, unreadable);
    }
}

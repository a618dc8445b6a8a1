using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Queue;

// Group commit: with queue.group-commit on, messages to be queued while a write is in progress wait for it,
// then are written together: their files are fsynced in parallel, which lets the file system's journal
// commit them together, and the two directories are fsynced once for the whole group. With it off, each
// message is written with its own fsyncs, files and directories, at once.
public sealed partial class QueueManager
{
    /// <summary>A write to the queue whose client waits for it; <c>Write(syncDirectories)</c> always fsyncs its files.</summary>
    private sealed record PendingWrite(string QueueId, IReadOnlyList<Spool.QueueEntry> Entries, IActorRef? ReplyTo, Action<bool> Write);

    /// <summary>The outcome of a group: the writes made durable, and those that failed with their errors.</summary>
    private sealed record BatchWritten(IReadOnlyList<PendingWrite> Stored, IReadOnlyList<(PendingWrite Write, Exception Error)> Failed, bool GroupCommit);

    // Writes of one group running at once; fsyncs issued together are committed together by the journal.
    private const int MaxParallelWrites = 16;

    private readonly List<PendingWrite> _pendingWrites = new();
    private bool _batchRunning;

    private void Submit(PendingWrite write)
    {
        if (!_settings.QueueGroupCommit)
        {
            RunBatch([write], groupCommit: false);
            return;
        }

        _pendingWrites.Add(write);
        if (!_batchRunning)
        {
            StartNextBatch();
        }
    }

    private void StartNextBatch()
    {
        if (_pendingWrites.Count == 0)
        {
            return;
        }

        var batch = _pendingWrites.ToList();
        _pendingWrites.Clear();
        _batchRunning = true;
        RunBatch(batch, groupCommit: true);
    }

    private void RunBatch(IReadOnlyList<PendingWrite> batch, bool groupCommit)
    {
        var store = _store;
        Task.Run(() =>
        {
            var stored = new System.Collections.Concurrent.ConcurrentBag<PendingWrite>();
            var failed = new System.Collections.Concurrent.ConcurrentBag<(PendingWrite, Exception)>();
            var options = new ParallelOptions { MaxDegreeOfParallelism = MaxParallelWrites };
            Parallel.ForEach(batch, options, write =>
            {
                try
                {
                    write.Write(!groupCommit);
                    stored.Add(write);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failed.Add((write, ex));
                }
            });

            var durable = stored.ToList();
            var errors = failed.ToList();
            if (groupCommit && durable.Count > 0)
            {
                try
                {
                    store.SyncDirectories();
                }
                catch (IOException ex)
                {
                    // Without the directory entries on disk none of the group is safe, so none of its clients may get 250.
                    errors.AddRange(durable.Select(w => (w, (Exception)ex)));
                    durable.Clear();
                }
            }

            return new BatchWritten(durable, errors, groupCommit);
        }).PipeTo(Self);
    }

    private void OnBatchWritten(BatchWritten written)
    {
        foreach (var write in written.Stored)
        {
            foreach (var entry in write.Entries)
            {
                _entries[entry.QueueId] = entry;
            }

            var main = write.Entries[0];
            _log.Info("{QueueId}: queued nrcpt={RecipientCount} next-attempt={NextAttempt:u}", main.QueueId, main.Recipients.Count, main.NextAttempt);
            write.ReplyTo?.Tell(new Enqueued(write.QueueId));
        }

        foreach (var (write, error) in written.Failed)
        {
            _log.Error("{QueueId}: cannot write to the queue: {Error}", write.QueueId, error.Message);
            write.ReplyTo?.Tell(new EnqueueFailed(write.QueueId, error.Message));
        }

        if (written.GroupCommit)
        {
            _batchRunning = false;
            StartNextBatch();
        }
    }
}

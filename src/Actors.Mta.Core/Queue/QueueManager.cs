using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Queue;

/// <summary>
/// Owns the queue of accepted messages that still have recipients to deliver: writes them durably, keeps an
/// index of their envelopes (never their data) in memory, retries them on a backoff schedule, sends
/// notifications for recipients that fail for good, and removes each message once nothing is pending.
/// All disk work runs in tasks; the actor keeps only the index.
/// </summary>
public sealed partial class QueueManager : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private sealed record Loaded(List<QueueEntry> Entries, List<string> Unreadable);

    private sealed record LoadFailed(Exception Error);

    private sealed record Scan
    {
        public static readonly Scan Instance = new();
    }

    private sealed record EntryStored(QueueEntry Entry, IActorRef? ReplyTo);

    private sealed record StoreFailed(string QueueId, Exception Error, IActorRef? ReplyTo);

    private sealed record EntryRemoved(string QueueId);

    private sealed record NotificationStored(QueueEntry Entry, IActorRef ReplyTo, string OriginalQueueId);

    private sealed record NotificationFailed(string OriginalQueueId, Exception Error, IActorRef ReplyTo);

    private MtaSettings _settings;
    private readonly SpoolStore _store;
    private readonly IActorRef _delivery;
    private readonly Dictionary<string, QueueEntry> _entries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Random _random = new();
    private bool _loaded;
    private bool _draining;

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    public QueueManager(MtaSettings settings, SpoolStore store, IActorRef delivery)
    {
        _settings = settings;
        _store = store;
        _delivery = delivery;

        Receive<Loaded>(OnLoaded);
        Receive<LoadFailed>(f => throw new IOException("Cannot load the queue: " + f.Error.Message, f.Error));
        Receive<Scan>(_ => OnScan());
        // LoadAll deletes data files without an envelope, which is what a write in progress looks like, so
        // writes wait until the load has finished.
        Receive<EnqueueMessage>(request => StashUntilLoaded(() => OnEnqueue(request)));
        Receive<NotifyFailures>(request => StashUntilLoaded(() => OnNotify(request)));
        Receive<EntryStored>(OnEntryStored);
        Receive<BatchWritten>(OnBatchWritten);
        Receive<NotificationStored>(OnNotificationStored);
        Receive<NotificationFailed>(OnNotificationFailed);
        Receive<StoreFailed>(OnStoreFailed);
        Receive<EntryRemoved>(r => _entries.Remove(r.QueueId));
        Receive<DeliveryReport>(OnDeliveryReport);
        Receive<LateResults>(OnLateResults);
        Receive<GetQueueStatus>(_ => Sender.Tell(Status()));
        Receive<ApplySettings>(apply => _settings = apply.Settings);
        Receive<DrainDelivery>(_ =>
        {
            // Messages stay on disk; retries in progress may finish, and any that do not are retried after the restart.
            _draining = true;
            Timers.Cancel(Scan.Instance);
        });
    }

    public static Props Props(MtaSettings settings, SpoolStore store, IActorRef delivery) =>
        Akka.Actor.Props.Create(() => new QueueManager(settings, store, delivery));

    protected override void PreStart()
    {
        var store = _store;
        Task.Run(() =>
        {
            store.CreateDirectories();
            var (entries, unreadable) = store.LoadAll();
            return new Loaded(entries, unreadable);
        }).PipeTo(Self, failure: error => new LoadFailed(error));
    }

    private QueueStatus Status()
    {
        var oldest = _entries.Count == 0 ? TimeSpan.Zero : DateTimeOffset.UtcNow - _entries.Values.Min(e => e.ArrivalTime);
        return new QueueStatus(_loaded, _entries.Count, oldest);
    }

    private void OnLoaded(Loaded loaded)
    {
        foreach (var entry in loaded.Entries)
        {
            _entries[entry.QueueId] = entry;
        }

        foreach (string path in loaded.Unreadable)
        {
            _log.Error("Queue file {Path} is unreadable or has no data file; it is left in place for the operator", path);
        }

        _loaded = true;
        Stash.UnstashAll();
        _log.Info("Queue loaded: {Count} message(s) waiting for delivery", _entries.Count);
        Timers.StartPeriodicTimer(Scan.Instance, Scan.Instance, _settings.QueueScanInterval);
        Self.Tell(Scan.Instance);
    }

    private void StashUntilLoaded(Action handle)
    {
        if (_loaded)
        {
            handle();
            return;
        }

        Stash.Stash();
    }

    private void OnScan()
    {
        ServerMetrics.Queue(Status());
        if (_draining)
        {
            return;
        }

        ProcessControlRequests();
        var now = DateTimeOffset.UtcNow;
        int free = _settings.QueueMaxConcurrentDeliveries - _inFlight.Count;
        if (free <= 0)
        {
            return;
        }

        var due = _entries.Values
            .Where(e => e.NextAttempt <= now && !_inFlight.Contains(e.QueueId))
            .OrderBy(e => e.NextAttempt)
            .Take(free)
            .ToList();
        foreach (var entry in due)
        {
            Dispatch(entry);
        }
    }

    private void Dispatch(QueueEntry entry)
    {
        _inFlight.Add(entry.QueueId);
        var envelope = new MessageEnvelope(
            entry.Sender.Length == 0 ? null : Mailboxes.Parse(entry.Sender),
            entry.Recipients.Select(r => Mailboxes.Parse(r.Address)).ToList(),
            entry.MailParameters)
        {
            RecipientParameters = RecipientParametersOf(entry),
        };
        _delivery.Tell(new DeliverMessage(entry.QueueId, envelope, _store.DataPath(entry.QueueId), entry.Size)
        {
            FromQueue = true,
            Attempt = entry.Attempts + 1,
            IsNotification = entry.IsNotification,
            Arrival = entry.ArrivalTime,
        });
    }

    private void OnEnqueue(EnqueueMessage request)
    {
        var now = DateTimeOffset.UtcNow;
        var entry = new QueueEntry
        {
            QueueId = request.QueueId,
            Sender = request.Envelope.SenderText,
            MailParameters = request.Envelope.MailParameters,
            Recipients = request.Pending
                .Select(r => new QueuedRecipient(r.Recipient.Address, r.Reply.ToString(), NullIfEmpty(request.Envelope.ParametersOf(r.Recipient))))
                .ToList(),
            ArrivalTime = request.Arrival,
            Attempts = 1,
            NextAttempt = now + RetrySchedule.NextDelay(1, _settings, _random),
            Size = request.Size,
        };

        var store = _store;
        var notification = request.Bounced.Count > 0 ? NotificationFor(request.QueueId, request.Envelope, request.Arrival, request.Bounced) : null;
        var data = request.Data;
        QueueEntry[] stored = notification is null ? [entry] : [entry, notification.Entry];

        // The notification is written first, from the data still in incoming/ or in memory, so that both are on
        // disk before the client gets its 250.
        Submit(new PendingWrite(request.QueueId, stored, Sender, syncDirectories =>
        {
            notification?.Write(store, data, syncDirectories);
            store.Enqueue(data, entry, syncDirectories);
        }));
    }

    private void OnNotify(NotifyFailures request)
    {
        var replyTo = Sender;
        var notification = NotificationFor(request.QueueId, request.Envelope, request.Arrival, request.Failed);
        if (notification is null)
        {
            replyTo.Tell(new Notified(request.QueueId));
            return;
        }

        var store = _store;
        Task.Run(() =>
        {
            notification.Write(store, request.Data, syncDirectories: true);
            return (object)new NotificationStored(notification.Entry, replyTo, request.QueueId);
        }).PipeTo(Self, failure: error => new NotificationFailed(request.QueueId, error, replyTo));
    }

    private void OnNotificationStored(NotificationStored stored)
    {
        _entries[stored.Entry.QueueId] = stored.Entry;
        stored.ReplyTo.Tell(new Notified(stored.OriginalQueueId));
    }

    // Without its notification on disk the sender would never learn of the failed recipients, so the client
    // gets 451 and retries instead of 250.
    private void OnNotificationFailed(NotificationFailed failed)
    {
        var error = failed.Error is AggregateException { InnerException: { } inner } ? inner : failed.Error;
        _log.Error("{QueueId}: cannot write the delivery status notification: {Error}", failed.OriginalQueueId, error.Message);
        failed.ReplyTo.Tell(new EnqueueFailed(failed.OriginalQueueId, error.Message));
    }

    private void OnEntryStored(EntryStored stored)
    {
        _entries[stored.Entry.QueueId] = stored.Entry;
        if (stored.ReplyTo is not null)
        {
            _log.Info("{QueueId}: queued nrcpt={RecipientCount} next-attempt={NextAttempt:u}",
                stored.Entry.QueueId, stored.Entry.Recipients.Count, stored.Entry.NextAttempt);
            stored.ReplyTo.Tell(new Enqueued(stored.Entry.QueueId));
        }
    }

    private void OnStoreFailed(StoreFailed failed)
    {
        var error = failed.Error is AggregateException { InnerException: { } inner } ? inner : failed.Error;
        _log.Error("{QueueId}: cannot write to the queue: {Error}", failed.QueueId, error.Message);
        failed.ReplyTo?.Tell(new EnqueueFailed(failed.QueueId, error.Message));
    }

    private void OnDeliveryReport(DeliveryReport report)
    {
        _inFlight.Remove(report.QueueId);
        if (!_entries.TryGetValue(report.QueueId, out var entry))
        {
            return;
        }

        var bounced = report.Results.Where(r => r.Reply.IsPermanentFailure).ToList();
        var deferred = report.Results.Where(r => r.Reply.IsTransientFailure).ToList();
        bool expired = DateTimeOffset.UtcNow - entry.ArrivalTime > _settings.QueueLifetime;
        if (expired && deferred.Count > 0)
        {
            _log.Warning("{QueueId}: queue lifetime of {Lifetime} expired with {Count} recipient(s) still deferred; bouncing them",
                entry.QueueId, _settings.QueueLifetime, deferred.Count);
            ServerMetrics.RecipientsExpired(deferred.Count, entry.ArrivalTime);
            bounced.AddRange(deferred.Select(d => d with { Reply = new SmtpReply(550, "4.4.7", $"Delivery time expired, last reply: {d.Reply}") }));
            deferred.Clear();
        }

        Complete(entry, bounced, deferred);
    }

    private void OnLateResults(LateResults late)
    {
        if (!_entries.TryGetValue(late.QueueId, out var entry) || _inFlight.Contains(late.QueueId))
        {
            return;
        }

        var finished = late.Results.Where(r => !r.Reply.IsTransientFailure).Select(r => r.Recipient.Address).ToHashSet(StringComparer.Ordinal);
        if (finished.Count == 0)
        {
            return;
        }

        var bounced = late.Results.Where(r => r.Reply.IsPermanentFailure).ToList();
        var remaining = entry.Recipients.Where(r => !finished.Contains(r.Address))
            .Select(r => new RecipientResult(Mailboxes.Parse(r.Address), new SmtpReply(451, null, r.LastReply ?? "deferred"), ""))
            .ToList();
        Complete(entry with { Attempts = entry.Attempts - 1 }, bounced, remaining);
    }

    // Applies one attempt's outcome: notify for bounced recipients, then remove the message or reschedule it.
    private void Complete(QueueEntry entry, List<RecipientResult> bounced, List<RecipientResult> deferred)
    {
        var store = _store;
        string queueId = entry.QueueId;
        if (entry.IsNotification && bounced.Count > 0)
        {
            _log.Error("{QueueId}: notification undeliverable, kept in {Folder}: {Reply}", queueId, store.DeadLetter, bounced[0].Reply.ToString());
            _entries.Remove(queueId);
            RunStore(queueId, () => store.MoveToDeadLetter(queueId));
            return;
        }

        var recipientParameters = RecipientParametersOf(entry);
        var envelope = new MessageEnvelope(entry.Sender.Length == 0 ? null : Mailboxes.Parse(entry.Sender), [], entry.MailParameters)
        {
            RecipientParameters = recipientParameters,
        };
        var notification = bounced.Count > 0 ? NotificationFor(queueId, envelope, entry.ArrivalTime, bounced) : null;
        if (deferred.Count == 0)
        {
            _entries.Remove(queueId);
            RunStore(queueId, () =>
            {
                notification?.Write(store, store.DataPath(queueId), syncDirectories: true);
                store.Remove(queueId);
            }, notification);
            return;
        }

        int attempts = entry.Attempts + 1;
        var updated = entry with
        {
            Recipients = deferred
                .Select(d => new QueuedRecipient(d.Recipient.Address, d.Reply.ToString(), NullIfEmpty(envelope.ParametersOf(d.Recipient))))
                .ToList(),
            Attempts = attempts,
            NextAttempt = DateTimeOffset.UtcNow + RetrySchedule.NextDelay(attempts, _settings, _random),
        };
        _entries[queueId] = updated;
        _log.Info("{QueueId}: deferred nrcpt={RecipientCount} attempts={Attempts} next-attempt={NextAttempt:u}",
            queueId, deferred.Count, attempts, updated.NextAttempt);
        RunStore(queueId, () =>
        {
            notification?.Write(store, store.DataPath(queueId), syncDirectories: true);
            store.WriteEnvelope(updated);
        }, notification);
    }

    private static Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>> RecipientParametersOf(QueueEntry entry)
    {
        var parameters = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>>(StringComparer.Ordinal);
        foreach (var recipient in entry.Recipients)
        {
            if (recipient.Parameters is { Count: > 0 })
            {
                parameters[recipient.Address] = recipient.Parameters;
            }
        }

        return parameters;
    }

    // An entry stores no parameter list for a recipient without parameters, as entries did before they had them.
    private static IReadOnlyList<KeyValuePair<string, string?>>? NullIfEmpty(IReadOnlyList<KeyValuePair<string, string?>> parameters) =>
        parameters.Count == 0 ? null : parameters;

    // Runs a queue update off the actor thread. A notification written by it is added to the index afterwards,
    // so it is delivered without waiting for a restart.
    private void RunStore(string queueId, Action action, PendingNotification? notification = null)
    {
        var log = _log;
        var self = Self;
        Task.Run(action).ContinueWith(t =>
        {
            if (t.Exception is { } error)
            {
                log.Error("{QueueId}: queue update failed: {Error}", queueId, error.InnerException?.Message ?? error.Message);
            }
            else if (notification is not null)
            {
                self.Tell(new EntryStored(notification.Entry, null));
            }
        }, TaskScheduler.Default);
    }
}

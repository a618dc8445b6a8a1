using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Core.Queue;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Delivers one message: splits its recipients by destination, sends each group to its destination actor in
/// parallel and gathers one result per recipient.
/// </summary>
/// <remarks>
/// For a message whose client is waiting (not <see cref="DeliverMessage.FromQueue"/>), the outcome decides what
/// happens to the file before the session gets its report. When any recipient is deferred, or the delivery
/// timeout passes first, the message goes to the queue, fsynced, and only then does the session get the report.
/// When some recipients were delivered and others rejected for good, the sender's notification is queued first.
/// Results that arrive after the message was queued are passed on to the queue.
/// For a retry from the queue, the results simply go back to the queue.
/// </remarks>
public sealed class MessageDelivery : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private sealed record DeliveryTimedOut
    {
        public static readonly DeliveryTimedOut Instance = new();
    }

    private sealed record LateWaitOver
    {
        public static readonly LateWaitOver Instance = new();
    }

    private readonly DeliverMessage _message;
    private readonly IActorRef _replyTo;
    private readonly MtaSettings _settings;
    private readonly IReadOnlyDictionary<string, IActorRef> _destinations;
    private readonly IActorRef _queue;
    private readonly Dictionary<string, RecipientResult> _results = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _pending = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTime _started = DateTime.UtcNow;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public MessageDelivery(DeliverMessage message, IActorRef replyTo, MtaSettings settings,
        IReadOnlyDictionary<string, IActorRef> destinations, IActorRef queue)
    {
        _message = message;
        _replyTo = replyTo;
        _settings = settings;
        _destinations = destinations;
        _queue = queue;
        Collecting();
    }

    public static Props Props(DeliverMessage message, IActorRef replyTo, MtaSettings settings,
        IReadOnlyDictionary<string, IActorRef> destinations, IActorRef queue) =>
        Akka.Actor.Props.Create(() => new MessageDelivery(message, replyTo, settings, destinations, queue));

    /// <summary>How long a delivery may take before its unanswered recipients count as deferred.</summary>
    private TimeSpan Deadline => _message.FromQueue
        ? _settings.LmtpConnectTimeout + 3 * _settings.LmtpReplyTimeout
        : _settings.DeliveryTimeout;

    protected override void PreStart()
    {
        var groups = new Dictionary<string, List<Mailbox>>(StringComparer.Ordinal);
        foreach (var recipient in _message.Envelope.Recipients)
        {
            var destination = DestinationFor(recipient);
            if (destination is null)
            {
                Record(new RecipientResult(recipient, new SmtpReply(550, "5.4.4", "No route to this domain"), "none"));
                continue;
            }

            _pending[recipient.Address] = destination.Name;
            if (!groups.TryGetValue(destination.Name, out var list))
            {
                groups[destination.Name] = list = new List<Mailbox>();
            }

            list.Add(recipient);
        }

        foreach (var (name, recipients) in groups)
        {
            var part = _message.Envelope with { Recipients = recipients };
            _destinations[name].Tell(new DeliverToDestination(_message.QueueId, part, _message.Data, Self));
        }

        if (_pending.Count == 0)
        {
            Decide();
            return;
        }

        Timers.StartSingleTimer(DeliveryTimedOut.Instance, DeliveryTimedOut.Instance, Deadline);
    }

    // Mail for accepted domains follows the routes. Only a notification may go elsewhere, through the relay.
    private Destination? DestinationFor(Mailbox recipient)
    {
        if (_settings.IsAcceptedDomain(recipient.Domain))
        {
            return _settings.RouteFor(recipient.Domain).Destination;
        }

        return _message.IsNotification ? _settings.NotificationRelay : null;
    }

    private void Collecting()
    {
        Receive<DestinationResults>(results =>
        {
            foreach (var result in results.Results)
            {
                if (_pending.Remove(result.Recipient.Address))
                {
                    Record(result);
                }
            }

            if (_pending.Count == 0)
            {
                Timers.Cancel(DeliveryTimedOut.Instance);
                Decide();
            }
        });
        Receive<DrainDelivery>(drain =>
        {
            var remaining = _started + Deadline - DateTime.UtcNow;
            if (!_message.FromQueue && drain.Within < remaining)
            {
                Timers.StartSingleTimer(DeliveryTimedOut.Instance, DeliveryTimedOut.Instance, drain.Within);
            }
        });
        Receive<DeliveryTimedOut>(_ =>
        {
            _log.Warning("{QueueId}: delivery not finished after {Deadline}; {Count} recipient(s) still pending",
                _message.QueueId, Deadline, _pending.Count);
            Decide();
        });
    }

    private void Record(RecipientResult result)
    {
        _results[result.Recipient.Address] = result;
        LogOutcome(result);
    }

    private RecipientResult ResultFor(Mailbox recipient) =>
        _results.TryGetValue(recipient.Address, out var result)
            ? result
            : new RecipientResult(recipient, new SmtpReply(451, "4.4.7", "Delivery not finished in time, try again later"), _pending[recipient.Address]);

    private void Decide()
    {
        var all = _message.Envelope.Recipients.Select(ResultFor).ToList();
        if (_message.FromQueue)
        {
            _replyTo.Tell(new DeliveryReport(_message.QueueId, all));
            Context.Stop(Self);
            return;
        }

        var deferred = all.Where(r => r.Reply.IsTransientFailure).ToList();
        var bounced = all.Where(r => r.Reply.IsPermanentFailure).ToList();
        bool anyDelivered = all.Any(r => r.Reply.IsPositive);
        if (deferred.Count > 0)
        {
            _queue.Tell(new EnqueueMessage(_message.QueueId, _message.Data, _message.Envelope, deferred, bounced, _message.Size, _message.Arrival));
            Become(() => AwaitingQueue(all));
        }
        else if (bounced.Count > 0 && anyDelivered)
        {
            _queue.Tell(new NotifyFailures(_message.QueueId, _message.Envelope, _message.Arrival, bounced, _message.Data));
            Become(() => AwaitingNotification(all));
        }
        else
        {
            Report(all, queued: false);
        }
    }

    private void AwaitingQueue(List<RecipientResult> all)
    {
        Receive<Enqueued>(_ =>
        {
            _replyTo.Tell(new DeliveryReport(_message.QueueId, all, Queued: true));
            Stash.UnstashAll();
            if (_pending.Count == 0)
            {
                Context.Stop(Self);
                return;
            }

            Timers.StartSingleTimer(LateWaitOver.Instance, LateWaitOver.Instance, _settings.LmtpConnectTimeout + 3 * _settings.LmtpReplyTimeout);
            Become(WaitingForLateResults);
        });
        Receive<EnqueueFailed>(failed =>
        {
            _log.Error("{QueueId}: queueing the message failed, the client gets 451 and will retry: {Error}", _message.QueueId, failed.Error);
            Report(all, queued: false);
        });
        Receive<DestinationResults>(_ => Stash.Stash());
        Receive<DeliveryTimedOut>(_ => { });
    }

    private void AwaitingNotification(List<RecipientResult> all)
    {
        Receive<Notified>(_ => Report(all, queued: false));
        Receive<EnqueueFailed>(_ =>
        {
            var notStored = new SmtpReply(451, "4.3.0", "Delivery status notification could not be stored");
            Report(all.Select(r => r.Reply.IsPermanentFailure ? r with { Reply = notStored } : r).ToList(), queued: false);
        });
    }

    private void WaitingForLateResults()
    {
        Receive<DestinationResults>(results =>
        {
            var late = results.Results.Where(r => _pending.Remove(r.Recipient.Address)).ToList();
            late.ForEach(LogOutcome);
            _queue.Tell(new LateResults(_message.QueueId, late));
            if (_pending.Count == 0)
            {
                Context.Stop(Self);
            }
        });
        Receive<LateWaitOver>(_ => Context.Stop(Self));
        Receive<DeliveryTimedOut>(_ => { });
    }

    // Reports to the waiting session and removes the file, which nothing needs any more.
    private void Report(List<RecipientResult> all, bool queued)
    {
        _replyTo.Tell(new DeliveryReport(_message.QueueId, all, queued));
        var data = _message.Data;
        if (!data.InMemory)
        {
            _ = Task.Run(data.Delete);
        }

        Context.Stop(Self);
    }

    private void LogOutcome(RecipientResult result)
    {
        ServerMetrics.RecipientOutcome(result.Reply, _message.Arrival);
        string status = "bounced";
        if (result.Reply.IsPositive)
        {
            status = "sent";
        }
        else if (result.Reply.IsTransientFailure)
        {
            status = "deferred";
        }
        double delay = (DateTime.UtcNow - _started).TotalSeconds;
        const string template = "{QueueId}: to=<{Recipient}> destination={Destination} attempt={Attempt} delay={Delay:0.###} status={Status} ({Reply})";
        object[] values = [_message.QueueId, result.Recipient.Address, result.Destination, _message.Attempt, delay, status, result.Reply.ToString()];
        if (result.Reply.IsPositive)
        {
            _log.Info(template, values);
        }
        else
        {
            _log.Warning(template, values);
        }
    }
}

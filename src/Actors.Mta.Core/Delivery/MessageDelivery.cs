using Actors.Mta.Core.Configuration;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Delivers one message: splits its recipients by destination, sends each group to its destination actor
/// in parallel, gathers one result per recipient, reports to the session and deletes the spool file.
/// Recipients without a result when the delivery timeout expires are reported as deferred (451).
/// </summary>
public sealed class MessageDelivery : ReceiveActor, IWithTimers
{
    private sealed record DeliveryTimedOut
    {
        public static readonly DeliveryTimedOut Instance = new();
    }

    private readonly DeliverMessage _message;
    private readonly IActorRef _replyTo;
    private readonly Dictionary<string, RecipientResult> _results = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _pendingDestinations = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTime _started = DateTime.UtcNow;

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly MtaSettings _settings;
    private readonly IReadOnlyDictionary<string, IActorRef> _destinations;

    public MessageDelivery(DeliverMessage message, IActorRef replyTo, MtaSettings settings, IReadOnlyDictionary<string, IActorRef> destinations)
    {
        _message = message;
        _replyTo = replyTo;
        _settings = settings;
        _destinations = destinations;
        Receive<DestinationResults>(OnResults);
        Receive<DeliveryTimedOut>(_ => OnTimeout());
    }

    protected override void PreStart()
    {
        var message = _message;
        var settings = _settings;
        var destinations = _destinations;
        foreach (var group in message.Envelope.Recipients.GroupBy(r => settings.RouteFor(r.Domain).Destination.Name))
        {
            var part = message.Envelope with { Recipients = group.ToList() };
            foreach (var recipient in group)
            {
                _pendingDestinations[recipient.Address] = group.Key;
            }

            destinations[group.Key].Tell(new DeliverToDestination(message.QueueId, part, message.SpoolFile, Self));
        }

        Timers.StartSingleTimer(DeliveryTimedOut.Instance, DeliveryTimedOut.Instance, settings.DeliveryTimeout);
    }

    private void OnResults(DestinationResults results)
    {
        foreach (var result in results.Results)
        {
            if (_pendingDestinations.Remove(result.Recipient.Address))
            {
                _results[result.Recipient.Address] = result;
                LogOutcome(result);
            }
        }

        if (_pendingDestinations.Count == 0)
        {
            Finish();
        }
    }

    private void OnTimeout()
    {
        foreach (var recipient in _message.Envelope.Recipients.Where(r => _pendingDestinations.ContainsKey(r.Address)))
        {
            var result = new RecipientResult(recipient, new SmtpReply(451, "4.4.7", "Delivery timed out, try again later"), _pendingDestinations[recipient.Address]);
            _results[recipient.Address] = result;
            LogOutcome(result);
        }

        _pendingDestinations.Clear();
        Finish();
    }

    private void LogOutcome(RecipientResult result)
    {
        string status = result.Reply.IsPositive ? "sent" : result.Reply.IsTransientFailure ? "deferred" : "bounced";
        double delay = (DateTime.UtcNow - _started).TotalSeconds;
        if (result.Reply.IsPositive)
        {
            _log.Info("{QueueId}: to=<{Recipient}> destination={Destination} delay={Delay:0.###} status={Status} ({Reply})",
                _message.QueueId, result.Recipient.Address, result.Destination, delay, status, result.Reply.ToString());
        }
        else
        {
            _log.Warning("{QueueId}: to=<{Recipient}> destination={Destination} delay={Delay:0.###} status={Status} ({Reply})",
                _message.QueueId, result.Recipient.Address, result.Destination, delay, status, result.Reply.ToString());
        }
    }

    private void Finish()
    {
        var ordered = _message.Envelope.Recipients.Select(r => _results[r.Address]).ToList();
        _replyTo.Tell(new DeliveryReport(_message.QueueId, ordered));

        // NOTE: without a durable queue the file goes whatever the outcome; a deferred message stays with the
        // sending client, which was answered 451. Deletion runs off the actor thread since it is a blocking call.
        string file = _message.SpoolFile;
        _ = Task.Run(() => File.Delete(file));
        Context.Stop(Self);
    }

    public static Props Props(DeliverMessage message, IActorRef replyTo, MtaSettings settings, IReadOnlyDictionary<string, IActorRef> destinations) =>
        Akka.Actor.Props.Create(() => new MessageDelivery(message, replyTo, settings, destinations));
}

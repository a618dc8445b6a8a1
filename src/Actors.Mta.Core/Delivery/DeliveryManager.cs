using System.Collections.Immutable;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Queue;
using Actors.Mta.Core.Spool;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Entry point of delivery. It owns one destination actor per configured destination (the bulkheads: each
/// has its own connections and waiting list, so a slow destination delays only its own mail) and starts a
/// <see cref="MessageDelivery"/> for each message.
/// </summary>
public sealed class DeliveryManager : ReceiveActor
{
    private MtaSettings _settings;
    private readonly Func<Destination, Props> _destinationProps;
    private readonly IActorRef _verifier;
    private int _destinationIndex;
    // Replaced, never changed in place: children hold the snapshot they were given.
    private ImmutableDictionary<string, IActorRef> _destinations = ImmutableDictionary<string, IActorRef>.Empty;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly IActorRef _queue;
    private DrainDelivery? _drain;

    /// <param name="queueProps">Creates the queue actor from this actor's reference; the default is a <see cref="QueueManager"/> on the configured spool.</param>
    /// <param name="destinationProps">Creates a destination actor; the default picks by destination type.</param>
    public DeliveryManager(MtaSettings settings, Func<IActorRef, Props>? queueProps = null, Func<Destination, Props>? destinationProps = null)
    {
        _settings = settings;
        _destinationProps = destinationProps ?? (d => DefaultDestinationProps(d, _settings));
        queueProps ??= self => QueueManager.Props(settings, new SpoolStore(settings.SpoolDirectory), self);
        StartDestinations(settings);

        _queue = Context.ActorOf(queueProps(Self), "queue");
        _verifier = Context.ActorOf(RecipientVerifier.Props(settings, _destinations), "verifier");
        Receive<VerifyRecipient>(request => _verifier.Forward(request));
        Receive<ApplySettings>(apply =>
        {
            _settings = apply.Settings;
            StartDestinations(apply.Settings);
            _verifier.Tell(new RecipientVerifier.Reconfigure(apply.Settings, _destinations));
            _queue.Tell(apply);
        });
        Receive<DeliverMessage>(message =>
        {
            string name = (message.FromQueue ? "retry-" : "message-") + message.QueueId;
            var delivery = Context.ActorOf(MessageDelivery.Props(message, Sender, _settings, _destinations, _queue), name);
            if (_drain is not null)
            {
                delivery.Tell(_drain);
            }
        });
        Receive<GetQueueStatus>(request => _queue.Forward(request));
        Receive<DrainDelivery>(drain =>
        {
            _drain = drain;
            foreach (var child in Context.GetChildren())
            {
                child.Tell(drain);
            }

            Sender.Tell(Akka.Done.Instance);
        });
    }

    // Starts an actor for every destination not running yet. After a reload, actors of destinations no longer
    // routed to stay, so deliveries in flight to them finish.
    private void StartDestinations(MtaSettings settings)
    {
        var destinations = settings.Routes.Select(r => r.Destination).ToList();
        if (settings.NotificationRelay is not null)
        {
            destinations.Add(settings.NotificationRelay);
        }

        foreach (var destination in destinations.DistinctBy(d => d.Name).Where(d => !_destinations.ContainsKey(d.Name)))
        {
            _destinations = _destinations.SetItem(destination.Name, Context.ActorOf(_destinationProps(destination), $"destination-{_destinationIndex++}"));
        }
    }

    /// <summary>A destination actor that fails is restarted; its in-flight deliveries are answered by <see cref="MessageDelivery"/>'s timeout.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "Delivery actor failed: {Error}", ex.Message);
            return Directive.Restart;
        });

    public static Props Props(MtaSettings settings, Func<IActorRef, Props>? queueProps = null, Func<Destination, Props>? destinationProps = null) =>
        Akka.Actor.Props.Create(() => new DeliveryManager(settings, queueProps, destinationProps));

    private static Props DefaultDestinationProps(Destination destination, MtaSettings settings) => destination switch
    {
        Destination.Lmtp lmtp => LmtpDestination.Props(lmtp, settings),
        Destination.DevSink sink => DevSinkDestination.Props(sink),
        Destination.Pipe pipe => PipeDestination.Props(pipe),
        Destination.SmtpRelay relay => SmtpRelayDestination.Props(relay, settings),
        _ => throw new ArgumentOutOfRangeException(nameof(destination), destination, "unknown destination type"),
    };
}

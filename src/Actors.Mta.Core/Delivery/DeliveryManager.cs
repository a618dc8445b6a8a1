using Actors.Mta.Core.Configuration;
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
    private readonly MtaSettings _settings;
    private readonly Dictionary<string, IActorRef> _destinations = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public DeliveryManager(MtaSettings settings, Func<Destination, Props>? destinationProps = null)
    {
        _settings = settings;
        destinationProps ??= d => DefaultDestinationProps(d, settings);
        int index = 0;
        foreach (var destination in settings.Routes.Select(r => r.Destination).DistinctBy(d => d.Name))
        {
            _destinations[destination.Name] = Context.ActorOf(destinationProps(destination), $"destination-{index++}");
        }

        Receive<DeliverMessage>(message =>
        {
            Context.ActorOf(MessageDelivery.Props(message, Sender, _settings, _destinations), "message-" + message.QueueId);
        });
    }

    /// <summary>A destination actor that fails is restarted; its in-flight deliveries are answered by <see cref="MessageDelivery"/>'s timeout.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "Delivery actor failed: {Error}", ex.Message);
            return Directive.Restart;
        });

    public static Props Props(MtaSettings settings, Func<Destination, Props>? destinationProps = null) =>
        Akka.Actor.Props.Create(() => new DeliveryManager(settings, destinationProps));

    private static Props DefaultDestinationProps(Destination destination, MtaSettings settings) => destination switch
    {
        Destination.Lmtp lmtp => LmtpDestination.Props(lmtp, settings),
        Destination.DevSink sink => DevSinkDestination.Props(sink),
        _ => throw new ArgumentOutOfRangeException(nameof(destination), destination, "unknown destination type"),
    };
}

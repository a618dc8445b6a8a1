using Actors.Mta.Core.Queue;
using Akka.Actor;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>
/// A stand-in for the queue manager: it takes every message and notification at once (as if written and
/// fsynced) and forwards each request to <paramref name="observer"/> so the test can inspect it.
/// </summary>
public sealed class FakeQueue : ReceiveActor
{
    public FakeQueue(IActorRef observer)
    {
        Receive<EnqueueMessage>(message =>
        {
            observer.Forward(message);
            Sender.Tell(new Enqueued(message.QueueId));
        });
        Receive<NotifyFailures>(message =>
        {
            observer.Forward(message);
            Sender.Tell(new Notified(message.QueueId));
        });
        ReceiveAny(observer.Forward);
    }

    public static Props Props(IActorRef observer) => Akka.Actor.Props.Create(() => new FakeQueue(observer));
}

using Actors.Mta.Core.Configuration;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

/// <summary>
/// Parent of every session. A session that throws is stopped, never restarted, since its connection is in an
/// unknown state; its PostStop sends the client 421 and closes the socket. Other sessions are not affected.
/// </summary>
public sealed class SessionSupervisor : ReceiveActor
{
    /// <summary>Starts a session on an accepted connection.</summary>
    public sealed record StartSession(ISessionTransport Transport);

    /// <summary>Asks for the number of sessions open now; answered with an int.</summary>
    public sealed record GetSessionCount
    {
        public static readonly GetSessionCount Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _nextSessionId;

    public SessionSupervisor(MtaSettings settings, IActorRef delivery)
    {
        Receive<StartSession>(start =>
        {
            string sessionId = (++_nextSessionId).ToString("x6");
            Context.ActorOf(SessionActor.Props(settings, start.Transport, sessionId, delivery), "session-" + sessionId);
        });
        Receive<GetSessionCount>(_ => Sender.Tell(Context.GetChildren().Count()));
    }

    protected override SupervisorStrategy SupervisorStrategy() => new StopAndLogStrategy(_log);

    public static Props Props(MtaSettings settings, IActorRef delivery) =>
        Akka.Actor.Props.Create(() => new SessionSupervisor(settings, delivery));

    /// <summary>Stops the failed session and logs the fault once, with the session id taken from the actor name.</summary>
    private sealed class StopAndLogStrategy(ILoggingAdapter log) : OneForOneStrategy(_ => Directive.Stop)
    {
        protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
        {
            string sessionId = child.Path.Name.StartsWith("session-", StringComparison.Ordinal) ? child.Path.Name["session-".Length..] : child.Path.Name;
            log.Error(cause, "{SessionId}: session failed and was stopped: {Error}", sessionId, cause.Message);
        }
    }
}

using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Metrics;
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

    /// <summary>Starts the shutdown of every session (see <see cref="SessionActor"/>); answered with <see cref="Drained"/> once all have closed.</summary>
    public sealed record DrainSessions(TimeSpan GracePeriod);

    public sealed record Drained
    {
        public static readonly Drained Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _drainWaiters = new();
    private long _nextSessionId;
    private bool _draining;

    private MtaSettings _settings;

    public SessionSupervisor(MtaSettings settings, IActorRef delivery)
    {
        _settings = settings;
        Receive<ApplySettings>(apply => _settings = apply.Settings);
        Receive<StartSession>(start =>
        {
            if (_draining)
            {
                RejectDuringShutdown(start.Transport, _settings.ServerName);
                return;
            }

            string sessionId = (++_nextSessionId).ToString("x6");
            Context.ActorOf(SessionActor.Props(_settings, start.Transport, sessionId, delivery), "session-" + sessionId);
        });
        Receive<GetSessionCount>(_ => Sender.Tell(Context.GetChildren().Count()));
        Receive<DrainSessions>(OnDrain);
        Receive<Terminated>(_ => ReportIfDrained());
    }

    private void OnDrain(DrainSessions drain)
    {
        _drainWaiters.Add(Sender);
        if (!_draining)
        {
            _draining = true;
            var sessions = Context.GetChildren().ToList();
            _log.Info("Shutting down: {Count} session(s) open, grace period {GracePeriod}", sessions.Count, drain.GracePeriod);
            foreach (var session in sessions)
            {
                Context.Watch(session);
                session.Tell(Drain.Instance);
                Context.System.Scheduler.ScheduleTellOnce(drain.GracePeriod, session, DrainExpired.Instance, Self);
            }
        }

        ReportIfDrained();
    }

    private void ReportIfDrained()
    {
        if (!_draining || Context.GetChildren().Any())
        {
            return;
        }

        foreach (var waiter in _drainWaiters)
        {
            waiter.Tell(Drained.Instance);
        }

        _drainWaiters.Clear();
    }

    // A connection accepted just before the listener closed: tell the client and close, without a session.
    private static void RejectDuringShutdown(ISessionTransport transport, string serverName)
    {
        ServerMetrics.ConnectionRejected();
        byte[] reply = System.Text.Encoding.ASCII.GetBytes($"421 4.3.2 {serverName} Service shutting down, closing connection\r\n");
        _ = Task.Run(async () =>
        {
            try
            {
                await transport.Output.WriteAsync(reply);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
            {
                // The client left first; nothing else to do.
            }
            finally
            {
                transport.Close();
            }
        });
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

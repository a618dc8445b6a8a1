using System.Diagnostics;
using System.Net;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Metrics;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

/// <summary>
/// Parent of every session. A session that throws is stopped, never restarted, since its connection is in an
/// unknown state; its PostStop sends the client 421 and closes the socket. Other sessions are not affected.
/// </summary>
/// <remarks>
/// Before a session starts, the supervisor reads the PROXY header of a connection from a trusted proxy and
/// applies the connection limits by client address. A connection over a limit gets 421 4.7.0 and is closed
/// without a session, so a flood costs no actor.
/// </remarks>
public sealed class SessionSupervisor : ReceiveActor, IWithTimers
{
    /// <summary>Starts a session on an accepted connection.</summary>
    public sealed record StartSession(ISessionTransport Transport);

    /// <summary>Requests the number of sessions open now. The reply is an int.</summary>
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

    private sealed record ProxyHeaderDone(ISessionTransport Transport, ProxyHeaderResult Result);

    private sealed record SweepClients
    {
        public static readonly SweepClients Instance = new();
    }

    // Rejection lines logged per window at most; the rest are counted and reported with the next line.
    private const int RejectionLogLimit = 10;
    private static readonly TimeSpan RejectionLogWindow = TimeSpan.FromSeconds(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _drainWaiters = new();
    private readonly ConnectionLimiter _limiter = new();
    private readonly Dictionary<IActorRef, string> _clientOfSession = new();
    private long _nextSessionId;
    private bool _draining;
    private int _pendingProxyHeaders;
    private long _rejectionWindowStart;
    private int _rejectionsLogged;
    private int _rejectionsNotLogged;

    private MtaSettings _settings;

    private readonly IActorRef _delivery;

    public ITimerScheduler Timers { get; set; } = null!;

    public SessionSupervisor(MtaSettings settings, IActorRef delivery)
    {
        _settings = settings;
        _delivery = delivery;
        Receive<ApplySettings>(apply => _settings = apply.Settings);
        Receive<StartSession>(start => OnStartSession(start.Transport));
        Receive<ProxyHeaderDone>(OnProxyHeaderDone);
        Receive<SweepClients>(_ => _limiter.Sweep(_settings));
        Receive<GetSessionCount>(_ => Sender.Tell(Context.GetChildren().Count()));
        Receive<DrainSessions>(OnDrain);
        Receive<Terminated>(terminated =>
        {
            if (_clientOfSession.Remove(terminated.ActorRef, out string? client))
            {
                _limiter.Release(client);
            }

            ReportIfDrained();
        });
    }

    protected override void PreStart() =>
        Timers.StartPeriodicTimer("sweep", SweepClients.Instance, TimeSpan.FromMinutes(1));

    private void OnStartSession(ISessionTransport transport)
    {
        if (_draining)
        {
            RejectDuringShutdown(transport, _settings.ServerName);
            return;
        }

        var peer = transport.RemoteEndPoint;
        if (peer is null || !IsTrustedProxy(peer.Address))
        {
            Admit(transport, peer);
            return;
        }

        // Connections waiting for their header count against the global limit, so a proxy cannot queue more.
        if (_clientOfSession.Count + _pendingProxyHeaders >= _settings.MaxConnections)
        {
            RejectConnection(transport, peer, Admission.TooManyConnections);
            return;
        }

        _pendingProxyHeaders++;
        ProxyHeaderReader.ReadAsync(transport, _settings.ProxyProtocolHeaderTimeout)
            .PipeTo(Self, success: result => new ProxyHeaderDone(transport, result));
    }

    private void OnProxyHeaderDone(ProxyHeaderDone done)
    {
        _pendingProxyHeaders--;
        var peer = done.Transport.RemoteEndPoint;
        if (done.Result.Header is not { } header)
        {
            LogRejection("Closing connection from trusted proxy {Peer}: {Reason}", peer, done.Result.Error!);
            ServerMetrics.ConnectionRejected();
            done.Transport.Close();
            return;
        }

        if (_draining)
        {
            RejectDuringShutdown(done.Transport, _settings.ServerName);
            return;
        }

        Admit(done.Transport, ProxyHeaderReader.ClientOf(header, peer));
    }

    private bool IsTrustedProxy(IPAddress address)
    {
        if (_settings.ProxyProtocolTrusted.Count == 0)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return _settings.ProxyProtocolTrusted.Any(network => network.Contains(address));
    }

    /// <summary>Starts a session for <paramref name="client"/>, or rejects the connection when it is over a limit.</summary>
    private void Admit(ISessionTransport transport, IPEndPoint? client)
    {
        string clientKey = ConnectionLimiter.ClientKey(client?.Address);
        var admission = _limiter.TryAdmit(clientKey, _clientOfSession.Count, _settings);
        if (admission != Admission.Admitted)
        {
            RejectConnection(transport, client, admission);
            return;
        }

        string sessionId = (++_nextSessionId).ToString("x6");
        var session = Context.ActorOf(SessionActor.Props(_settings, transport, sessionId, _delivery, client), "session-" + sessionId);
        Context.Watch(session);
        _clientOfSession[session] = clientKey;
    }

    private void RejectConnection(ISessionTransport transport, IPEndPoint? client, Admission admission)
    {
        string reason = admission switch
        {
            Admission.TooManyConnections => $"{_settings.MaxConnections} sessions open (limits.max-connections)",
            Admission.TooManyFromClient => $"{_settings.MaxConnectionsPerClient} sessions open from this client (limits.max-connections-per-client)",
            _ => $"more than {_settings.MaxConnectionRatePerClient} connections per minute (limits.max-connection-rate-per-client)",
        };
        string text = admission switch
        {
            Admission.TooManyConnections => "Too many connections, try again later",
            Admission.TooManyFromClient => "Too many connections from your address, try again later",
            _ => "Too many connections from your address per minute, try again later",
        };
        LogRejection("Rejected connection from {Peer}: {Reason}", client, reason);
        ServerMetrics.ConnectionRejected();
        SendAndClose(transport, $"421 4.7.0 {_settings.ServerName} {text}\r\n");
    }

    /// <summary>Logs one line per rejected connection, at most <see cref="RejectionLogLimit"/> per window, so a flood cannot flood the log.</summary>
    private void LogRejection(string template, IPEndPoint? peer, string reason)
    {
        long now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(_rejectionWindowStart, now) >= RejectionLogWindow)
        {
            _rejectionWindowStart = now;
            _rejectionsLogged = 0;
        }

        if (_rejectionsLogged >= RejectionLogLimit)
        {
            _rejectionsNotLogged++;
            return;
        }

        _rejectionsLogged++;
        if (_rejectionsNotLogged > 0)
        {
            _log.Warning(template + " ({NotLogged} rejections before this one not logged)", peer?.ToString() ?? "unknown", reason, _rejectionsNotLogged);
            _rejectionsNotLogged = 0;
            return;
        }

        _log.Warning(template, peer?.ToString() ?? "unknown", reason);
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
        SendAndClose(transport, $"421 4.3.2 {serverName} Service shutting down, closing connection\r\n");
    }

    private static void SendAndClose(ISessionTransport transport, string line)
    {
        byte[] reply = System.Text.Encoding.ASCII.GetBytes(line);
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

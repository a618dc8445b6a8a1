using System.Net;
using System.Net.Sockets;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Sessions;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Listening;

/// <summary>
/// Owns the listening sockets: those passed by systemd when there are any, otherwise sockets it binds to the
/// configured endpoints. Each accepted connection goes to the session supervisor. Accepts are asynchronous
/// and their completions arrive as messages.
/// </summary>
public sealed class ListenerActor : ReceiveActor
{
    /// <summary>Requests the endpoints being listened on. The reply is <see cref="Listening"/>.</summary>
    public sealed record GetEndpoints
    {
        public static readonly GetEndpoints Instance = new();
    }

    /// <summary>The local endpoints of the listening sockets, and whether they came from systemd.</summary>
    public sealed record Listening(IReadOnlyList<EndPoint> Endpoints, bool Inherited);

    /// <summary>Closes the listening sockets, so no new connection is accepted. The reply is <see cref="Akka.Done"/>.</summary>
    public sealed record StopAccepting
    {
        public static readonly StopAccepting Instance = new();
    }

    private sealed record Accepted(Socket Listener, Socket Client);

    private sealed record AcceptFailed(Socket Listener, Exception Error);

    private sealed record RetryAccept(Socket Listener);

    private readonly MtaSettings _settings;
    private readonly IActorRef _sessions;
    private readonly IReadOnlyList<InheritedSocket> _inherited;
    private readonly List<Socket> _listeners = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _stopping;

    public ListenerActor(MtaSettings settings, IActorRef sessions, IReadOnlyList<InheritedSocket> inherited)
    {
        _settings = settings;
        _sessions = sessions;
        _inherited = inherited;
        Receive<Accepted>(OnAccepted);
        Receive<AcceptFailed>(OnAcceptFailed);
        Receive<RetryAccept>(r => Accept(r.Listener));
        Receive<StopAccepting>(_ =>
        {
            if (!_stopping)
            {
                _stopping = true;
                _log.Info("Shutting down: no longer accepting connections");
                foreach (var listener in _listeners)
                {
                    listener.Dispose();
                }
            }

            Sender.Tell(Akka.Done.Instance);
        });
        Receive<GetEndpoints>(_ => Sender.Tell(new Listening(_listeners.Select(l => l.LocalEndPoint!).ToList(), _inherited.Count > 0)));
    }

    public static Props Props(MtaSettings settings, IActorRef sessions, IReadOnlyList<InheritedSocket> inherited) =>
        Akka.Actor.Props.Create(() => new ListenerActor(settings, sessions, inherited));

    protected override void PreStart()
    {
        if (_inherited.Count > 0)
        {
            if (_settings.ListenEndpoints.Count > 0)
            {
                _log.Info("Using {Count} socket(s) passed by systemd; the configured endpoints {Endpoints} are not bound",
                    _inherited.Count, string.Join(", ", _settings.ListenEndpoints));
            }

            foreach (var inherited in _inherited)
            {
                if (!IsSmtpSocket(inherited.Name))
                {
                    // Only SMTP is served so far; a socket for another role (submission, say) is closed, so
                    // clients of that port get a refused connection instead of hanging in its backlog.
                    _log.Warning("Closing the socket {Name} on {Endpoint} from systemd: only sockets named smtp are served",
                        inherited.Name, inherited.Socket.LocalEndPoint);
                    inherited.Socket.Dispose();
                    continue;
                }

                _log.Info("Listening on {Endpoint} (socket {Name} from systemd)", inherited.Socket.LocalEndPoint, inherited.Name);
                _listeners.Add(inherited.Socket);
            }

            if (_listeners.Count == 0)
            {
                throw new InvalidOperationException(
                    $"None of the sockets passed by systemd ({string.Join(", ", _inherited.Select(s => s.Name))}) is named smtp; " +
                    "set FileDescriptorName=smtp in the socket unit");
            }
        }
        else
        {
            foreach (var endpoint in _settings.ListenEndpoints)
            {
                _listeners.Add(Bind(endpoint));
                _log.Info("Listening on {Endpoint}", _listeners[^1].LocalEndPoint);
            }
        }

        foreach (var listener in _listeners)
        {
            Accept(listener);
        }
    }

    protected override void PostStop()
    {
        _stopping = true;
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }
    }

    /// <summary>
    /// Tells whether a socket from systemd is for SMTP: named smtp, or unnamed ("unknown" is what
    /// sd_listen_fds_with_names(3) reports for a socket without FileDescriptorName=).
    /// </summary>
    private static bool IsSmtpSocket(string name) => name is "smtp" or "unknown";

    private Socket Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            socket.Bind(endpoint);
            socket.Listen(_settings.ListenBacklog);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new ListenerBindException(endpoint, ex);
        }
    }

    private void Accept(Socket listener)
    {
        listener.AcceptAsync().PipeTo(Self,
            success: client => new Accepted(listener, client),
            failure: error => new AcceptFailed(listener, error));
    }

    private void OnAccepted(Accepted accepted)
    {
        if (!_stopping)
        {
            Accept(accepted.Listener);
        }

        _sessions.Tell(new SessionSupervisor.StartSession(new SocketTransport(accepted.Client)));
    }

    private void OnAcceptFailed(AcceptFailed failed)
    {
        if (_stopping || failed.Error is ObjectDisposedException)
        {
            return;
        }

        // Out of descriptors or memory: wait a little instead of spinning on accept.
        _log.Error("Accept on {Endpoint} failed, retrying in 1 s: {Error}", failed.Listener.LocalEndPoint, failed.Error.Message);
        Context.System.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), Self, new RetryAccept(failed.Listener), Self);
    }
}

/// <summary>A configured endpoint could not be bound, for example because the port is in use.</summary>
public sealed class ListenerBindException(IPEndPoint endpoint, SocketException inner)
    : Exception($"Cannot listen on {endpoint}: {inner.Message}", inner)
{
    public IPEndPoint Endpoint { get; } = endpoint;
}

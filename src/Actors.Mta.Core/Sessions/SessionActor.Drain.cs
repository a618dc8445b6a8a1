using Actors.Mta.Core.Metrics;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

/// <summary>Tells a session that the server is shutting down: close between transactions, finish the one in progress.</summary>
internal sealed record Drain
{
    public static readonly Drain Instance = new();
}

/// <summary>Tells a draining session that its grace period is over: close now, whatever the state.</summary>
internal sealed record DrainExpired
{
    public static readonly DrainExpired Instance = new();
}

// Shutdown: a session between transactions gets 421 4.3.2 at once; a transaction in progress may finish
// within the grace period and the session closes after its reply. A client still mid-transaction when the
// grace period ends gets 421 too, so it never sees its data met by a silent close.
public sealed partial class SessionActor
{
    private bool _draining;

    private void OnDrain()
    {
        if (_mode == Mode.Closed || _draining)
        {
            return;
        }

        _draining = true;
        if (!_flushPending && DrainIfIdle())
        {
            Flush();
        }
    }

    /// <summary>
    /// When draining and no transaction is open, buffers the 421 reply and marks the session to close after
    /// the next flush. Returns true when it did so.
    /// </summary>
    private bool DrainIfIdle()
    {
        if (!_draining || _closeAfterFlush || _mode != Mode.Commands || _transaction is not null)
        {
            return false;
        }

        Reply(421, "4.3.2", $"{_settings.ServerName} Service shutting down, closing connection");
        _closeAfterFlush = true;
        _outcome = SessionOutcome.Shutdown;
        return true;
    }

    private void OnDrainExpired()
    {
        if (_mode == Mode.Closed)
        {
            return;
        }

        _log.Info("{SessionId}: shutdown grace period over, closing session with {Remote}", _sessionId, _remote);
        _outcome = _closeAfterFlush ? _outcome : SessionOutcome.Shutdown;
        if (_flushPending || _mode == Mode.StartingTls)
        {
            // A 421 cannot be written while a flush runs, nor during the TLS handshake, when no pipe is open.
            Close();
            return;
        }

        if (!_closeAfterFlush)
        {
            Reply(421, "4.3.2", $"{_settings.ServerName} Service shutting down, closing connection");
            _closeAfterFlush = true;
        }

        _dataWritePending = false;
        Flush();
    }
}

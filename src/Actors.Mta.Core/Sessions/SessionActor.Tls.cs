using System.Buffers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

// STARTTLS (RFC 3207). After the 220 reply the session reads nothing more in plain text: bytes the client
// pipelined after the STARTTLS line are discarded, never executed inside the TLS session (the command injection
// of CVE-2011-0411). Once the handshake succeeds the session starts over without HELO name or transaction
// (RFC 3207 section 4.2), and a failed handshake closes the connection.
public sealed partial class SessionActor
{
    private static readonly SslProtocols TlsProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    private bool _tls;

    private void StartTls(string argument)
    {
        if (_settings.Tls is null)
        {
            Reply(502, "5.5.1", "Command not implemented");
            return;
        }

        if (_tls)
        {
            Reply(503, "5.5.1", "TLS is already active");
            return;
        }

        if (_transaction is not null)
        {
            Reply(503, "5.5.1", "STARTTLS is not allowed inside a mail transaction");
            return;
        }

        if (argument.Length > 0)
        {
            Reply(501, "5.5.4", "Syntax: STARTTLS");
            return;
        }

        Reply(220, "2.0.0", "Ready to start TLS");
        _mode = Mode.StartingTls;
    }

    /// <summary>Drops the input that follows the STARTTLS line, so it is never read as commands.</summary>
    private void DiscardInputAfterStartTls(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length > 0)
        {
            _log.Warning("{SessionId}: discarded {Count} bytes that {Remote} sent after STARTTLS before the TLS handshake",
                _sessionId, buffer.Length, _remote);
        }

        buffer = buffer.Slice(buffer.End);
    }

    /// <summary>Starts the handshake once the 220 reply is flushed; the result arrives as a message.</summary>
    private void BeginTlsHandshake()
    {
        var tls = _settings.Tls!;
        var context = tls.Certificate.Current(out string? reloadError);
        if (reloadError is not null)
        {
            _log.Warning("{SessionId}: {Error}", _sessionId, reloadError);
        }

        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = context,
            EnabledSslProtocols = TlsProtocols,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        _transport.StartTlsAsync(options, tls.HandshakeTimeout).PipeTo(Self,
            success: info => new SessionIo.TlsStarted(info),
            failure: error => new SessionIo.TlsFailed(error));
    }

    private void OnTlsStarted(TlsSessionInfo info)
    {
        if (_mode != Mode.StartingTls)
        {
            return;
        }

        _log.Info("{SessionId}: TLS started with {Remote}: {Protocol} {CipherSuite}", _sessionId, _remote, info.Protocol, info.CipherSuite);
        _tls = true;
        _heloName = null;
        _esmtp = false;
        _transaction = null;
        _mode = Mode.Commands;
        if (DrainIfIdle())
        {
            Flush();
            return;
        }

        StartRead();
    }

    private void OnTlsFailed(Exception error)
    {
        if (_mode == Mode.Closed)
        {
            return;
        }

        var cause = error is AggregateException { InnerException: { } inner } ? inner : error;
        _log.Info("{SessionId}: TLS handshake failed with {Remote}: {Error}", _sessionId, _remote, cause.Message);
        Close();
    }
}

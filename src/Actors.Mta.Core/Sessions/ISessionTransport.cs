using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Actors.Mta.Core.Sessions;

/// <summary>
/// The byte streams of one client connection. Sessions see only this, so tests can drive a session
/// through in-memory pipes and split the input at any byte.
/// </summary>
public interface ISessionTransport
{
    PipeReader Input { get; }
    PipeWriter Output { get; }
    IPEndPoint? RemoteEndPoint { get; }
    IPEndPoint? LocalEndPoint { get; }

    /// <summary>
    /// Turns the connection into a TLS connection, as the server side (RFC 3207): completes the plain
    /// <see cref="Input"/> and <see cref="Output"/>, whose buffered bytes are dropped, runs the handshake, and
    /// replaces them with pipes over the TLS stream. Call it only after the 220 reply is flushed and with no read
    /// pending. Throws <see cref="TimeoutException"/> when the handshake takes longer than <paramref name="timeout"/>,
    /// and <see cref="AuthenticationException"/> or <see cref="IOException"/> when it fails.
    /// </summary>
    Task<TlsSessionInfo> StartTlsAsync(SslServerAuthenticationOptions options, TimeSpan timeout);

    /// <summary>Closes the connection at once. Safe to call more than once and from any thread.</summary>
    void Close();
}

/// <summary>What a TLS handshake agreed on, for the log.</summary>
public sealed record TlsSessionInfo(SslProtocols Protocol, TlsCipherSuite CipherSuite);

/// <summary>A client connection on a socket, read and written through System.IO.Pipelines.</summary>
public sealed class SocketTransport : ISessionTransport
{
    private static readonly TimeSpan TlsShutdownTimeout = TimeSpan.FromSeconds(1);

    // Zero-byte reads keep an idle connection from holding a receive buffer until data arrives. Every reader keeps
    // a reference to its options for its lifetime, so all connections share one instance.
    private static readonly StreamPipeReaderOptions ReaderOptions =
        new(bufferSize: 4096, minimumReadSize: 1024, useZeroByteReads: true, leaveOpen: true);

    private static readonly StreamPipeWriterOptions WriterOptions = new(minimumBufferSize: 1024, leaveOpen: true);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private SslStream? _tls;
    private int _closed;

    public SocketTransport(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: false);
        (Input, Output) = CreatePipes(_stream);
        RemoteEndPoint = socket.RemoteEndPoint as IPEndPoint;
        LocalEndPoint = socket.LocalEndPoint as IPEndPoint;
    }

    public PipeReader Input { get; private set; }
    public PipeWriter Output { get; private set; }
    public IPEndPoint? RemoteEndPoint { get; }
    public IPEndPoint? LocalEndPoint { get; }

    public async Task<TlsSessionInfo> StartTlsAsync(SslServerAuthenticationOptions options, TimeSpan timeout)
    {
        // The pipes leave the network stream open, so completing them drops only what they buffered: bytes the
        // client sent after STARTTLS that the session read but did not execute.
        await Input.CompleteAsync();
        await Output.CompleteAsync();
        var tls = new SslStream(_stream, leaveInnerStreamOpen: true);
        _tls = tls;
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await tls.AuthenticateAsServerAsync(options, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"TLS handshake timed out after {timeout.TotalSeconds:0.###} s");
        }

        (Input, Output) = CreatePipes(tls);
        return new TlsSessionInfo(tls.SslProtocol, tls.NegotiatedCipherSuite);
    }

    private static (PipeReader Input, PipeWriter Output) CreatePipes(Stream stream)
    {
        return (PipeReader.Create(stream, ReaderOptions), PipeWriter.Create(stream, WriterOptions));
    }

    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        if (_tls is { IsAuthenticated: true } tls)
        {
            // A TLS client expects a close_notify alert before the end of the stream (RFC 8446 section 6.1);
            // without it OpenSSL reports an unexpected EOF. The socket closes after at most one second either way.
            _ = ShutdownTlsThenCloseAsync(tls);
            return;
        }

        CloseSocket();
    }

    private async Task ShutdownTlsThenCloseAsync(SslStream tls)
    {
        try
        {
            await tls.ShutdownAsync().WaitAsync(TlsShutdownTimeout);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The peer is gone or a write is still running; the socket is closed below all the same.
        }

        CloseSocket();
    }

    private void CloseSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // The peer may already be gone; closing is all that is left to do.
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        _tls?.Dispose();
        _stream.Dispose();
    }
}

using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

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

    /// <summary>Closes the connection at once. Safe to call more than once and from any thread.</summary>
    void Close();
}

/// <summary>A client connection on a socket, read and written through System.IO.Pipelines.</summary>
public sealed class SocketTransport : ISessionTransport
{
    private readonly Socket _socket;
    private int _closed;

    public SocketTransport(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        var stream = new NetworkStream(socket, ownsSocket: false);

        // Zero-byte reads keep an idle connection from holding a receive buffer until data arrives.
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, useZeroByteReads: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 1024));
        RemoteEndPoint = socket.RemoteEndPoint as IPEndPoint;
        LocalEndPoint = socket.LocalEndPoint as IPEndPoint;
    }

    public PipeReader Input { get; }
    public PipeWriter Output { get; }
    public IPEndPoint? RemoteEndPoint { get; }
    public IPEndPoint? LocalEndPoint { get; }

    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

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
    }
}

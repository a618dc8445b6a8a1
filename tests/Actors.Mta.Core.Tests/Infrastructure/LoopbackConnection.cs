using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Actors.Mta.Core.Sessions;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>
/// A client on a real loopback TCP connection whose server side is a <see cref="SocketTransport"/>, for tests that
/// need what in-memory pipes cannot give, such as a TLS handshake. Every read gives up after 10 s.
/// </summary>
public sealed class LoopbackConnection : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _client;
    private readonly List<byte> _received = new();
    private readonly List<string> _linesRead = new();
    private Stream _stream;

    private LoopbackConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>The TLS stream after <see cref="StartTlsAsync"/>, or null before.</summary>
    public SslStream? Tls => _stream as SslStream;

    /// <summary>Connects to a one-off listener on 127.0.0.1 and hands the accepted socket's transport to <paramref name="startSession"/>.</summary>
    public static async Task<LoopbackConnection> OpenAsync(Action<ISessionTransport> startSession)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var client = new TcpClient();
            var connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            var socket = await listener.AcceptSocketAsync();
            await connect;
            startSession(new SocketTransport(socket));
            return new LoopbackConnection(client);
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Sends <paramref name="text"/> as UTF-8 in one write.</summary>
    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Sends raw bytes in one write.</summary>
    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends <paramref name="text"/> and returns the last line of the reply.</summary>
    public async Task<string> CommandAsync(string text)
    {
        await SendAsync(text);
        return (await ReadReplyAsync())[^1];
    }

    /// <summary>Reads the lines of one reply, up to the line whose code is followed by a space.</summary>
    public async Task<IReadOnlyList<string>> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            string line = await ReadLineAsync()
                ?? throw new EndOfStreamException("Connection closed in the middle of a reply; lines so far:\n" + string.Join("\n", _linesRead));
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return lines;
            }
        }
    }

    /// <summary>
    /// Runs the client side of the TLS handshake, accepting any server certificate, and sends and reads through
    /// TLS from then on. Fails when the server sent bytes after its 220 reply that were not read yet.
    /// </summary>
    public async Task<SslStream> StartTlsAsync(string targetHost = "mx.test", SslProtocols protocols = SslProtocols.None)
    {
        if (_received.Count > 0)
        {
            throw new InvalidDataException($"{_received.Count} unread bytes from the server before the TLS handshake");
        }

        var tls = new SslStream(_client.GetStream(), leaveInnerStreamOpen: true);
        using var timeout = new CancellationTokenSource(ReadTimeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, timeout.Token);
        _stream = tls;
        return tls;
    }

    /// <summary>Returns true when the server closes the connection with nothing more to read, false when a line arrives.</summary>
    public async Task<bool> IsClosedAsync()
    {
        try
        {
            return await ReadLineAsync() is null;
        }
        catch (IOException)
        {
            // A reset or a TLS alert after the server closed: closed all the same.
            return true;
        }
    }

    /// <summary>Reads one line without its CRLF, or returns null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var buffer = new byte[4096];
        while (true)
        {
            int lf = _received.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_received.GetRange(0, lf).ToArray()).TrimEnd('\r');
                _received.RemoveRange(0, lf + 1);
                _linesRead.Add(line);
                return line;
            }

            int read;
            try
            {
                read = await _stream.ReadAsync(buffer, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No reply line within {ReadTimeout.TotalSeconds} s; lines so far:\n{string.Join("\n", _linesRead)}");
            }

            if (read == 0)
            {
                return null;
            }

            _received.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}

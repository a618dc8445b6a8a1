using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>A message as the fake LMTP server received it, dot-stuffing removed.</summary>
public sealed record LmtpMessage(string Sender, IReadOnlyList<string> Recipients, string Data);

/// <summary>
/// An LMTP server (RFC 2033) on 127.0.0.1 with scripted replies per recipient, for delivery tests. It counts
/// connections and records every command and message. With <see cref="Hang"/> it accepts connections and
/// never answers.
/// </summary>
public sealed class FakeLmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _clients = new();
    private readonly Task _acceptLoop;
    private readonly TimeSpan? _idleClose;
    private readonly bool _pipelining;
    private int _connections;

    /// <param name="port">The port to listen on, 0 for any free one.</param>
    /// <param name="idleClose">When set, a connection idle this long gets 421 and is closed, as a server that ends idle connections does.</param>
    /// <param name="pipelining">Whether LHLO advertises PIPELINING.</param>
    public FakeLmtpServer(bool hang = false, int port = 0, TimeSpan? idleClose = null, bool pipelining = true)
    {
        Hang = hang;
        _idleClose = idleClose;
        _pipelining = pipelining;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Accept connections and never send anything.</summary>
    public bool Hang { get; }

    /// <summary>Connections accepted so far.</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>RCPT replies by recipient address (case-insensitive); others get "250 2.1.5 Ok".</summary>
    public ConcurrentDictionary<string, string> RcptReplies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Replies after the data by recipient address (case-insensitive); others get "250 2.0.0 Saved".</summary>
    public ConcurrentDictionary<string, string> DataReplies { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<string> Commands { get; } = new();

    public ConcurrentQueue<LmtpMessage> Messages { get; } = new();

    /// <summary>Returns a TCP port on 127.0.0.1 with nothing listening on it (it was free a moment ago).</summary>
    public static int UnusedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _clients.Add(client);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            // Latin-1 maps every byte to one char, so 8-bit message data survives the round trip.
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1);
            await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
            if (Hang)
            {
                while (await reader.ReadLineAsync(_stop.Token) is not null)
                {
                }

                return;
            }

            await writer.WriteLineAsync("220 fake.lmtp LMTP ready");
            await ServeCommandsAsync(reader, writer);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client or the test closed the connection.
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task ServeCommandsAsync(StreamReader reader, StreamWriter writer)
    {
        string? sender = null;
        var accepted = new List<string>();
        while (await ReadCommandAsync(reader) is { } line)
        {
            Commands.Enqueue(line);
            string verb = line.Split(' ', 2)[0].ToUpperInvariant();
            switch (verb)
            {
                case "LHLO":
                    await writer.WriteAsync("250-fake.lmtp\r\n" + (_pipelining ? "250-PIPELINING\r\n" : "") + "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n");
                    break;
                case "MAIL":
                    sender = PathOf(line);
                    accepted.Clear();
                    await writer.WriteLineAsync("250 2.1.0 Ok");
                    break;
                case "RCPT":
                    string recipient = PathOf(line);
                    string reply = RcptReplies.GetValueOrDefault(recipient, "250 2.1.5 Ok");
                    if (reply.StartsWith('2'))
                    {
                        accepted.Add(recipient);
                    }

                    await writer.WriteLineAsync(reply);
                    break;
                case "DATA" when accepted.Count == 0:
                    await writer.WriteLineAsync("503 5.5.1 No valid recipients");
                    break;
                case "DATA":
                    await writer.WriteLineAsync("354 Go ahead");
                    string data = await ReadDataAsync(reader);
                    Messages.Enqueue(new LmtpMessage(sender ?? "", accepted.ToList(), data));

                    // RFC 2033 section 4.2: one reply per accepted recipient, in RCPT order.
                    foreach (string each in accepted)
                    {
                        await writer.WriteLineAsync(DataReplies.GetValueOrDefault(each, "250 2.0.0 Saved"));
                    }

                    accepted.Clear();
                    break;
                case "RSET":
                    sender = null;
                    accepted.Clear();
                    await writer.WriteLineAsync("250 2.0.0 Ok");
                    break;
                case "NOOP":
                    await writer.WriteLineAsync("250 2.0.0 Ok");
                    break;
                case "QUIT":
                    await writer.WriteLineAsync("221 2.0.0 Bye");
                    return;
                default:
                    await writer.WriteLineAsync("500 5.5.2 Unknown command");
                    break;
            }
        }
    }

    // Returns null at the end of the connection, or after telling an idle client 421.
    private async Task<string?> ReadCommandAsync(StreamReader reader)
    {
        if (_idleClose is not { } idle)
        {
            return await reader.ReadLineAsync(_stop.Token);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(idle);
        try
        {
            return await reader.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            await reader.BaseStream.WriteAsync("421 4.4.2 fake.lmtp Disconnected client for inactivity\r\n"u8.ToArray());
            return null;
        }
    }

    private async Task<string> ReadDataAsync(StreamReader reader)
    {
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(_stop.Token) is { } line && line != ".")
        {
            data.Append(line.StartsWith('.') ? line[1..] : line).Append("\r\n");
        }

        return data.ToString();
    }

    private static string PathOf(string line)
    {
        int open = line.IndexOf('<');
        int close = line.IndexOf('>', open + 1);
        return open < 0 || close < 0 ? "" : line[(open + 1)..close];
    }
}

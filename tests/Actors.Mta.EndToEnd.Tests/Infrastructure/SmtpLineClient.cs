using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>One SMTP or LMTP reply: the code and the text of each line without the code and separator.</summary>
public sealed record SmtpReply(int Code, IReadOnlyList<string> Lines)
{
    public string Text => string.Join("\n", Lines);

    public override string ToString() => $"{Code} {string.Join(" / ", Lines)}";
}

/// <summary>
/// Minimal SMTP/LMTP client over a raw socket, for tests that check exact replies. It keeps a transcript of
/// everything sent and received so a failed assertion can show the dialogue.
/// </summary>
public sealed class SmtpLineClient : IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);

    private readonly TcpClient client;
    private Stream stream;
    private readonly StringBuilder transcript = new();
    private readonly byte[] buffer = new byte[8192];
    private int bufferStart;
    private int bufferEnd;

    private SmtpLineClient(TcpClient client)
    {
        this.client = client;
        stream = client.GetStream();
    }

    public string Transcript => transcript.ToString();

    /// <param name="localAddress">Loopback address to connect from, such as 127.0.0.2, so the server sees a client other than 127.0.0.1.</param>
    public static async Task<SmtpLineClient> ConnectAsync(int port, IPAddress? localAddress = null)
    {
        var client = localAddress is null ? new TcpClient() : new TcpClient(new IPEndPoint(localAddress, 0));
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        return new SmtpLineClient(client);
    }

    /// <summary>The TLS stream after <see cref="StartTlsAsync"/>, or null before.</summary>
    public SslStream? Tls => stream as SslStream;

    /// <summary>
    /// Runs the client side of a TLS handshake on the connection, accepting any server certificate, and sends and
    /// reads through TLS from then on. Throws when the server sent bytes that were not read yet.
    /// </summary>
    public async Task StartTlsAsync(string targetHost)
    {
        if (bufferStart != bufferEnd)
        {
            throw new InvalidDataException($"{bufferEnd - bufferStart} unread bytes from the server before the TLS handshake.\n{Transcript}");
        }

        var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: true);
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, timeout.Token);
        transcript.Append($"-- TLS started: {tls.SslProtocol} {tls.NegotiatedCipherSuite}\n");
        stream = tls;
    }

    /// <summary>Sends raw bytes in one write, for input that is not one command line.</summary>
    public async Task SendRawAsync(byte[] bytes, string description)
    {
        transcript.Append("C: ").Append(description).Append('\n');
        await stream.WriteAsync(bytes);
    }

    /// <summary>Returns true when the server closes the connection with nothing more to read, false when a line arrives.</summary>
    public async Task<bool> IsClosedAsync()
    {
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        try
        {
            var line = await ReadLineAsync(timeout.Token);
            if (line is not null)
            {
                transcript.Append("S: ").Append(line).Append('\n');
            }

            return line is null;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Sends one command line; CRLF is appended.</summary>
    public async Task SendLineAsync(string line)
    {
        transcript.Append("C: ").Append(line).Append('\n');
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
    }

    /// <summary>Sends a message as DATA content: dot-stuffs it and appends the terminating line.</summary>
    public async Task SendDataAsync(byte[] message)
    {
        var wire = DotStuffing.Stuff(message);
        transcript.Append($"C: <{message.Length} octets of message, then .>\n");
        await stream.WriteAsync(wire);
    }

    /// <summary>Sends <paramref name="command"/> and reads its reply.</summary>
    public async Task<SmtpReply> CommandAsync(string command)
    {
        await SendLineAsync(command);
        return await ReadReplyAsync();
    }

    /// <summary>Reads one reply, following continuation lines ("250-...").</summary>
    public async Task<SmtpReply> ReadReplyAsync()
    {
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        var lines = new List<string>();
        while (true)
        {
            string? line;
            try
            {
                line = await ReadLineAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException(
                    $"No complete reply within {ReplyTimeout.TotalSeconds} s.\n{Transcript}S: (no reply)");
            }

            if (line is null)
            {
                throw new IOException($"Connection closed while reading a reply.\n{Transcript}");
            }

            transcript.Append("S: ").Append(line).Append('\n');
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), out var code))
            {
                throw new InvalidDataException($"Malformed reply line '{line}'.\n{Transcript}");
            }

            lines.Add(line.Length > 4 ? line[4..] : "");
            if (line.Length == 3 || line[3] == ' ')
            {
                return new SmtpReply(code, lines);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stream.DisposeAsync();
        client.Dispose();
    }

    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        while (true)
        {
            if (bufferStart == bufferEnd)
            {
                bufferStart = 0;
                bufferEnd = await stream.ReadAsync(buffer, cancellationToken);
                if (bufferEnd == 0)
                {
                    return line.Count == 0 ? null : Encoding.UTF8.GetString(line.ToArray());
                }
            }

            var b = buffer[bufferStart++];
            if (b == (byte)'\n')
            {
                if (line.Count > 0 && line[^1] == (byte)'\r')
                {
                    line.RemoveAt(line.Count - 1);
                }

                return Encoding.UTF8.GetString(line.ToArray());
            }

            line.Add(b);
        }
    }
}

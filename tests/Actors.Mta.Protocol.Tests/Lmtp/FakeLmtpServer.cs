using System.Net;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.Protocol.Lmtp;

namespace Actors.Mta.Protocol.Tests.Lmtp;

/// <summary>
/// A scripted LMTP server on loopback or a unix socket for one client connection. The script plays the server side
/// of a transcript. After the script returns, the server replies 221 to QUIT and records other lines until the
/// client closes. Await <see cref="Completion"/> to surface failures inside the script.
/// </summary>
internal sealed class FakeLmtpServer : IAsyncDisposable
{
    private readonly Socket listener;
    private readonly string? socketPath;

    private FakeLmtpServer(Socket listener, LmtpEndpoint endpoint, string? socketPath, Func<FakeLmtpSession, Task> script)
    {
        this.listener = listener;
        this.socketPath = socketPath;
        Endpoint = endpoint;
        Completion = RunAsync(script);
    }

    public LmtpEndpoint Endpoint { get; }

    /// <summary>The server side of the connection, set once the client connected.</summary>
    public FakeLmtpSession Session { get; private set; } = null!;

    public Task Completion { get; }

    public static FakeLmtpServer StartTcp(Func<FakeLmtpSession, Task> script)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        return new FakeLmtpServer(listener, new LmtpEndpoint.Tcp("127.0.0.1", port), null, script);
    }

    public static FakeLmtpServer StartUnix(Func<FakeLmtpSession, Task> script)
    {
        string path = Path.Combine(Path.GetTempPath(), $"lmtp-test-{Guid.NewGuid():N}.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return new FakeLmtpServer(listener, new LmtpEndpoint.Unix(path), path, script);
    }

    private async Task RunAsync(Func<FakeLmtpSession, Task> script)
    {
        using var acceptTimeout = new CancellationTokenSource(FakeLmtpSession.ReadTimeout);
        using Socket connection = await listener.AcceptAsync(acceptTimeout.Token);
        Session = new FakeLmtpSession(connection);
        await script(Session);
        await Session.ServeQuitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        listener.Dispose();
        try
        {
            await Completion.WaitAsync(FakeLmtpSession.ReadTimeout);
        }
        catch (Exception)
        {
            // Tests that care await Completion themselves. Disposal only makes sure the script has stopped.
        }

        if (socketPath is not null)
        {
            File.Delete(socketPath);
        }
    }
}

/// <summary>The server end of one connection: reads lines and DATA blocks, and records what the client sent.</summary>
internal sealed class FakeLmtpSession(Socket connection)
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly NetworkStream stream = new(connection, ownsSocket: false);
    private byte[] buffer = new byte[4096];
    private int bufferStart;
    private int bufferEnd;

    /// <summary>Every command line the client sent, without CRLF. DATA content is in <see cref="DataBlocks"/>.</summary>
    public List<string> Lines { get; } = [];

    /// <summary>The content of each DATA block as sent, still dot-stuffed, without the final ".\r\n".</summary>
    public List<byte[]> DataBlocks { get; } = [];

    public Task SendAsync(string text) => stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    /// <summary>Sends a 220 greeting, reads LHLO and replies with a 250 that lists <paramref name="extensions"/>.</summary>
    public async Task GreetAsync(params string[] extensions)
    {
        await SendAsync("220 fake.test LMTP ready\r\n");
        await ReadLineAsync();
        var reply = new StringBuilder();
        string[] lines = ["fake.test", .. extensions];
        for (int i = 0; i < lines.Length; i++)
        {
            reply.Append("250").Append(i == lines.Length - 1 ? ' ' : '-').Append(lines[i]).Append("\r\n");
        }

        await SendAsync(reply.ToString());
    }

    /// <summary>Reads one line and records it. Returns null when the client closed the connection.</summary>
    public async Task<string?> ReadLineAsync()
    {
        byte[]? line = await ReadRawLineAsync();
        if (line is null)
        {
            return null;
        }

        string text = Encoding.UTF8.GetString(line).TrimEnd('\n').TrimEnd('\r');
        Lines.Add(text);
        return text;
    }

    /// <summary>Reads <paramref name="count"/> lines without replying in between, as a pipelining client sends them.</summary>
    public async Task ReadLinesAsync(int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (await ReadLineAsync() is null)
            {
                throw new IOException($"Client closed the connection after {i} of {count} lines");
            }
        }
    }

    /// <summary>Reads DATA content up to the line ".\r\n", records it and returns it still dot-stuffed.</summary>
    public async Task<byte[]> ReadDataAsync()
    {
        var content = new MemoryStream();
        while (true)
        {
            byte[] line = await ReadRawLineAsync() ?? throw new IOException("Client closed the connection during DATA");
            if (line.AsSpan().SequenceEqual(".\r\n"u8))
            {
                byte[] data = content.ToArray();
                DataBlocks.Add(data);
                return data;
            }

            content.Write(line);
        }
    }

    /// <summary>Returns true when the client sends anything within <paramref name="wait"/>, which a client waiting for a reply must not.</summary>
    public async Task<bool> HasInputWithinAsync(TimeSpan wait)
    {
        if (bufferEnd > bufferStart)
        {
            return true;
        }

        using var timeout = new CancellationTokenSource(wait);
        try
        {
            return await FillAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Closes the connection from the server side.</summary>
    public void Close() => connection.Shutdown(SocketShutdown.Both);

    /// <summary>Replies 221 to QUIT and records other lines until the client closes the connection.</summary>
    public async Task ServeQuitAsync()
    {
        try
        {
            while (await ReadLineAsync() is { } line)
            {
                if (line == "QUIT")
                {
                    await SendAsync("221 2.0.0 Bye\r\n");
                }
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException)
        {
            // The script closed the connection itself, or the client reset it.
        }
    }

    private async Task<byte[]?> ReadRawLineAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        while (true)
        {
            int lineFeed = Array.IndexOf(buffer, (byte)'\n', bufferStart, bufferEnd - bufferStart);
            if (lineFeed >= 0)
            {
                byte[] line = buffer[bufferStart..(lineFeed + 1)];
                bufferStart = lineFeed + 1;
                return line;
            }

            if (!await FillAsync(timeout.Token))
            {
                return null;
            }
        }
    }

    /// <summary>Reads more bytes into the buffer. Returns false at the end of the input.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (bufferStart > 0)
        {
            Array.Copy(buffer, bufferStart, buffer, 0, bufferEnd - bufferStart);
            bufferEnd -= bufferStart;
            bufferStart = 0;
        }

        if (bufferEnd == buffer.Length)
        {
            Array.Resize(ref buffer, buffer.Length * 2);
        }

        int read = await stream.ReadAsync(buffer.AsMemory(bufferEnd), cancellationToken);
        bufferEnd += read;
        return read > 0;
    }
}

using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>An LMTP server sent something that is not a valid reply, closed the connection mid-reply, or rejected the session.</summary>
public sealed class LmtpProtocolException : Exception
{
    public LmtpProtocolException(string message) : base(message)
    {
    }

    public LmtpProtocolException(string message, SmtpReply reply) : base(message)
    {
        Reply = reply;
    }

    /// <summary>The reply that made the client give up (a rejected greeting, LHLO or RSET), or null for a malformed reply.</summary>
    public SmtpReply? Reply { get; }
}

/// <summary>
/// An LMTP client connection (RFC 2033): connect, LHLO once, then any number of transactions separated by RSET.
/// Not thread-safe: one transaction at a time.
/// </summary>
/// <remarks>
/// After any exception from <see cref="SendAsync"/> or <see cref="ResetAsync"/> the connection is in an unknown
/// state, so later calls throw <see cref="InvalidOperationException"/>. Dispose the client and connect again.
/// Network errors surface as <see cref="IOException"/> or <see cref="SocketException"/>.
/// </remarks>
public sealed partial class LmtpClient : IAsyncDisposable
{
    /// <summary>Size of the pieces the message is read and written in, so a large message is never held in memory whole.</summary>
    internal const int DataChunkSize = 64 * 1024;

    private static readonly TimeSpan QuitTimeout = TimeSpan.FromSeconds(2);

    private readonly LmtpEndpoint endpoint;
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly PipeReader input;
    private readonly PipeWriter output;
    private readonly LmtpReplyReader replyReader;
    private HashSet<string> extensions = new(StringComparer.OrdinalIgnoreCase);
    private int operationInProgress;
    private bool broken;
    private bool disposed;

    /// <summary>
    /// False once the connection failed or the server replied 421, which announces that it closes the connection
    /// (RFC 5321 section 3.8): such a client must be disposed, not used for another transaction.
    /// </summary>
    public bool CanReuse => !broken && !disposed;

    private LmtpClient(LmtpEndpoint endpoint, Socket socket)
    {
        this.endpoint = endpoint;
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: false);
        input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        replyReader = new LmtpReplyReader(input);
    }

    /// <summary>
    /// Connects, reads the greeting and sends LHLO. Throws <see cref="LmtpProtocolException"/> on a non-2xx greeting
    /// or LHLO reply, and <see cref="TimeoutException"/> when all of it takes longer than <paramref name="timeout"/>.
    /// </summary>
    public static async Task<LmtpClient> ConnectAsync(LmtpEndpoint endpoint, string lhloDomain, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (string.IsNullOrEmpty(lhloDomain) || lhloDomain.Any(c => c <= ' ' || char.IsControl(c)))
        {
            throw new ArgumentException($"Invalid LHLO domain \"{lhloDomain}\"", nameof(lhloDomain));
        }

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        Socket socket = CreateSocket(endpoint);
        LmtpClient? client = null;
        try
        {
            await ConnectSocketAsync(socket, endpoint, timeoutSource.Token).ConfigureAwait(false);
            client = new LmtpClient(endpoint, socket);

            SmtpReply greeting = await client.replyReader.ReadAsync(timeoutSource.Token).ConfigureAwait(false);
            if (greeting.Code / 100 != 2)
            {
                throw new LmtpProtocolException($"LMTP server {endpoint} rejected the connection: {greeting}", greeting);
            }

            client.WriteCommand("LHLO " + lhloDomain);
            await client.output.FlushAsync(timeoutSource.Token).ConfigureAwait(false);
            SmtpReply lhloReply = await client.replyReader.ReadAsync(timeoutSource.Token).ConfigureAwait(false);
            if (lhloReply.Code / 100 != 2)
            {
                throw new LmtpProtocolException($"LMTP server {endpoint} rejected LHLO: {lhloReply}", lhloReply);
            }

            client.extensions = ParseExtensions(lhloReply);
            return client;
        }
        catch (Exception exception)
        {
            client?.Abort();
            socket.Dispose();
            if (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Connecting to LMTP server {endpoint} timed out after {timeout.TotalSeconds:0.###} s");
            }

            throw;
        }
    }

    /// <summary>The extension keywords the server listed in its LHLO reply, upper case (PIPELINING, 8BITMIME, SMTPUTF8, SIZE, DSN ...).</summary>
    public IReadOnlySet<string> Extensions => extensions;

    /// <summary>
    /// Runs one transaction: MAIL, one RCPT per recipient, DATA with <paramref name="message"/> dot-stuffed, then
    /// one reply per accepted recipient. Commands are pipelined when the server offers PIPELINING.
    /// MAIL and RCPT parameters of an extension the server did not advertise are left out (SMTPUTF8, BODY, SIZE, and the DSN ones).
    /// Each reply must arrive within <paramref name="replyTimeout"/>, or <see cref="TimeoutException"/> is thrown.
    /// </summary>
    public async Task<LmtpTransactionResult> SendAsync(LmtpEnvelope envelope, Stream message, TimeSpan replyTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(message);
        if (envelope.Recipients.Count == 0)
        {
            throw new ArgumentException("An LMTP transaction needs at least one recipient", nameof(envelope));
        }

        // Build the commands first, so invalid arguments throw before anything is sent.
        string mailCommand = LmtpCommandBuilder.BuildMailFrom(envelope.ReversePath, envelope.MailParameters, extensions);
        string[] rcptCommands = envelope.Recipients
            .Select(r => LmtpCommandBuilder.BuildRcptTo(r, envelope.RecipientParameters.GetValueOrDefault(r.Address, []), extensions))
            .ToArray();

        BeginOperation();
        try
        {
            var transaction = new Transaction(mailCommand, rcptCommands, message, replyTimeout, cancellationToken);
            return extensions.Contains("PIPELINING")
                ? await SendPipelinedAsync(transaction).ConfigureAwait(false)
                : await SendSequentiallyAsync(transaction).ConfigureAwait(false);
        }
        catch
        {
            broken = true;
            throw;
        }
        finally
        {
            EndOperation();
        }
    }

    /// <summary>Sends RSET, so the connection can carry another transaction. Throws <see cref="LmtpProtocolException"/> unless the reply is 250.</summary>
    public async Task ResetAsync(TimeSpan replyTimeout, CancellationToken cancellationToken)
    {
        BeginOperation();
        try
        {
            WriteCommand("RSET");
            await FlushAsync(replyTimeout, cancellationToken).ConfigureAwait(false);
            SmtpReply reply = await ReadReplyAsync("RSET", replyTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Code != 250)
            {
                throw new LmtpProtocolException($"LMTP server {endpoint} rejected RSET: {reply}", reply);
            }
        }
        catch
        {
            broken = true;
            throw;
        }
        finally
        {
            EndOperation();
        }
    }

    /// <summary>Sends QUIT and closes the connection, ignoring errors.</summary>
    /// <remarks>QUIT is skipped when the connection is broken or an operation is still running.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (!broken && Interlocked.CompareExchange(ref operationInProgress, 1, 0) == 0)
        {
            try
            {
                WriteCommand("QUIT");
                await FlushAsync(QuitTimeout, CancellationToken.None).ConfigureAwait(false);
                await ReadReplyAsync("QUIT", QuitTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or SocketException or TimeoutException
                or OperationCanceledException or LmtpProtocolException or ObjectDisposedException or InvalidOperationException)
            {
                // QUIT is a courtesy: the server ends the session when the socket closes anyway.
            }
        }

        Abort();
    }

    private static Socket CreateSocket(LmtpEndpoint endpoint) => endpoint switch
    {
        // A dual-mode IPv6 socket reaches both IPv4 and IPv6 addresses of a host name.
        LmtpEndpoint.Tcp => new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true },
        LmtpEndpoint.Unix => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
        _ => throw new ArgumentException($"Unsupported LMTP endpoint type {endpoint.GetType().Name}", nameof(endpoint)),
    };

    private static async Task ConnectSocketAsync(Socket socket, LmtpEndpoint endpoint, CancellationToken cancellationToken)
    {
        switch (endpoint)
        {
            case LmtpEndpoint.Tcp tcp:
                await socket.ConnectAsync(tcp.Host, tcp.Port, cancellationToken).ConfigureAwait(false);
                break;
            case LmtpEndpoint.Unix unix:
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(unix.Path), cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Takes the first word of every LHLO reply line after the first, which is the server's name (RFC 5321 section 4.1.1.1).</summary>
    private static HashSet<string> ParseExtensions(SmtpReply lhloReply)
    {
        var keywords = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lhloReply.Lines.Skip(1))
        {
            string keyword = line.Split(' ', 2, StringSplitOptions.TrimEntries)[0];
            if (keyword.Length > 0)
            {
                keywords.Add(keyword.ToUpperInvariant());
            }
        }

        return keywords;
    }

    private void BeginOperation()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (broken)
        {
            throw new InvalidOperationException($"The connection to LMTP server {endpoint} failed earlier; dispose this client and connect again");
        }

        if (Interlocked.CompareExchange(ref operationInProgress, 1, 0) != 0)
        {
            throw new InvalidOperationException("LmtpClient runs one operation at a time");
        }
    }

    private void EndOperation() => Volatile.Write(ref operationInProgress, 0);

    /// <summary>Appends a command and its CRLF to the pipe. Nothing is sent until the next flush.</summary>
    private void WriteCommand(string command)
    {
        int length = Encoding.UTF8.GetByteCount(command);
        Span<byte> span = output.GetSpan(length + 2);
        Encoding.UTF8.GetBytes(command, span);
        span[length] = (byte)'\r';
        span[length + 1] = (byte)'\n';
        output.Advance(length + 2);
    }

    /// <summary>Flushes written bytes to the socket. Throws <see cref="TimeoutException"/> when the server stops reading for <paramref name="timeout"/>.</summary>
    private async Task FlushAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await output.FlushAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Sending to LMTP server {endpoint} timed out after {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>Reads one reply. Throws <see cref="TimeoutException"/> when it does not arrive within <paramref name="timeout"/>.</summary>
    private async Task<SmtpReply> ReadReplyAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            SmtpReply reply = await replyReader.ReadAsync(timeoutSource.Token).ConfigureAwait(false);
            if (reply.Code == 421)
            {
                broken = true;
            }

            return reply;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"LMTP server {endpoint} did not reply to {command} within {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>Closes the socket and the pipes without a QUIT.</summary>
    private void Abort()
    {
        socket.Dispose();
        CompleteQuietly(input.Complete);
        CompleteQuietly(output.Complete);
        stream.Dispose();
    }

    private static void CompleteQuietly(Action<Exception?> complete)
    {
        try
        {
            complete(null);
        }
        catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The socket is already closed. Completing a pipe here only returns its buffers.
        }
    }
}

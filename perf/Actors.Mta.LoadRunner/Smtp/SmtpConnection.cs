using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.LoadRunner.Smtp;

/// <summary>
/// A minimal SMTP client connection: it writes command and data bytes as given and parses replies, with no
/// MIME, no TLS and no retries, so the runner's own cost per message stays small. Every operation is limited
/// by the reply timeout and by the run's abort token.
/// </summary>
public sealed class SmtpConnection : IAsyncDisposable
{
    /// <summary>Longest reply accepted, in bytes; a server sending more is treated as broken.</summary>
    private const int MaxReplyLength = 64 * 1024;

    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly PipeReader reader;
    private readonly TimeSpan timeout;
    private readonly CancellationToken abort;
    private readonly CancellationTokenSource operationTimeout;

    private SmtpConnection(Socket socket, TimeSpan timeout, CancellationToken abort)
    {
        this.socket = socket;
        this.timeout = timeout;
        this.abort = abort;
        stream = new NetworkStream(socket, ownsSocket: true);
        reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true));
        operationTimeout = CancellationTokenSource.CreateLinkedTokenSource(abort);
    }

    public long BytesSent { get; private set; }

    public long BytesReceived { get; private set; }

    /// <summary>Opens a TCP connection to <paramref name="endpoint"/>; the caller reads the greeting.</summary>
    /// <exception cref="SmtpClientException">The connection was refused, reset or timed out.</exception>
    public static async Task<SmtpConnection> ConnectAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken abort)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(abort);
        connectTimeout.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endpoint, connectTimeout.Token);
            return new SmtpConnection(socket, timeout, abort);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SmtpClientException(FailureKeys.ForSocketError(e.SocketErrorCode), $"connect to {endpoint} failed: {e.Message}", e);
        }
        catch (OperationCanceledException e)
        {
            socket.Dispose();
            var key = abort.IsCancellationRequested ? FailureKeys.Aborted : FailureKeys.Timeout;
            throw new SmtpClientException(key, $"connect to {endpoint} did not complete within {timeout.TotalSeconds} s", e);
        }
    }

    /// <summary>Sends <paramref name="data"/> as is: the caller supplies CRLFs and dot-stuffing.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        Arm();
        try
        {
            await stream.WriteAsync(data, operationTimeout.Token);
            BytesSent += data.Length;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            throw Translate(e, "send");
        }
    }

    /// <summary>Sends one command line and reads its reply.</summary>
    public async ValueTask<SmtpReply> CommandAsync(ReadOnlyMemory<byte> commandLine, bool keepText = false)
    {
        await SendAsync(commandLine);
        return await ReadReplyAsync(keepText);
    }

    /// <summary>
    /// Reads one reply, multi-line replies included (RFC 5321 section 4.2.1: "CODE-text" lines, then "CODE text").
    /// </summary>
    /// <param name="keepText">Keep the text of a positive reply too (needed for the EHLO keywords).</param>
    public async ValueTask<SmtpReply> ReadReplyAsync(bool keepText = false)
    {
        Arm();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(operationTimeout.Token);
                var buffer = result.Buffer;
                if (TryParseReply(ref buffer, keepText, out var reply))
                {
                    BytesReceived += result.Buffer.Length - buffer.Length;
                    reader.AdvanceTo(buffer.Start);
                    return reply;
                }

                if (buffer.Length > MaxReplyLength)
                {
                    throw new SmtpClientException(FailureKeys.ProtocolError, $"reply longer than {MaxReplyLength} bytes");
                }

                if (result.IsCompleted)
                {
                    throw new SmtpClientException(FailureKeys.ConnectionClosed, "the server closed the connection before its reply ended");
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            throw Translate(e, "read");
        }
    }

    /// <summary>Stops the reply timeout while the session is idle on purpose (a held connection).</summary>
    public void Disarm() => operationTimeout.CancelAfter(Timeout.InfiniteTimeSpan);

    public async ValueTask DisposeAsync()
    {
        operationTimeout.Dispose();
        await reader.CompleteAsync();
        await stream.DisposeAsync();
    }

    private void Arm() => operationTimeout.CancelAfter(timeout);

    private SmtpClientException Translate(Exception e, string operation)
    {
        if (e is OperationCanceledException)
        {
            return abort.IsCancellationRequested
                ? new SmtpClientException(FailureKeys.Aborted, $"{operation} aborted at the end of the run", e)
                : new SmtpClientException(FailureKeys.Timeout, $"{operation} timed out after {timeout.TotalSeconds} s", e);
        }

        var socketError = (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode;
        var key = socketError is { } code ? FailureKeys.ForSocketError(code) : FailureKeys.ConnectionClosed;
        return new SmtpClientException(key, $"{operation} failed: {e.Message}", e);
    }

    private static bool TryParseReply(ref ReadOnlySequence<byte> buffer, bool keepText, out SmtpReply reply)
    {
        var sequenceReader = new SequenceReader<byte>(buffer);
        StringBuilder? text = null;
        var code = 0;
        while (sequenceReader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            ReadOnlySpan<byte> lineBytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            if (lineBytes.Length > 0 && lineBytes[^1] == (byte)'\r')
            {
                lineBytes = lineBytes[..^1];
            }

            if (lineBytes.Length < 3 || !TryParseCode(lineBytes[..3], out var lineCode))
            {
                throw new SmtpClientException(FailureKeys.ProtocolError, $"invalid reply line '{Encoding.UTF8.GetString(lineBytes)}'");
            }

            code = lineCode;
            var isLast = lineBytes.Length == 3 || lineBytes[3] != (byte)'-';
            if (keepText || code >= 400)
            {
                text ??= new StringBuilder();
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append(lineBytes.Length > 4 ? Encoding.UTF8.GetString(lineBytes[4..]) : "");
            }

            if (isLast)
            {
                buffer = buffer.Slice(sequenceReader.Position);
                reply = new SmtpReply(code, text?.ToString());
                return true;
            }
        }

        reply = default;
        return false;
    }

    private static bool TryParseCode(ReadOnlySpan<byte> digits, out int code)
    {
        code = 0;
        foreach (var digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            code = code * 10 + (digit - '0');
        }

        return true;
    }
}

/// <summary>
/// A failure below the SMTP replies (refused, reset, closed, timed out, malformed), with the key it is
/// counted under in the report.
/// </summary>
public sealed class SmtpClientException(string failureKey, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string FailureKey { get; } = failureKey;
}

/// <summary>Keys under which failures are grouped in the reports: a reply code, or one of these names.</summary>
public static class FailureKeys
{
    public const string Timeout = "timeout";
    public const string Aborted = "aborted";
    public const string ConnectionRefused = "connection-refused";
    public const string ConnectionReset = "connection-reset";
    public const string ConnectionClosed = "connection-closed";
    public const string ProtocolError = "protocol-error";

    public static string ForReply(SmtpReply reply) => reply.Code.ToString();

    public static string ForSocketError(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => ConnectionRefused,
        SocketError.ConnectionReset or SocketError.ConnectionAborted => ConnectionReset,
        SocketError.TimedOut => Timeout,
        _ => "socket-" + error.ToString().ToLowerInvariant(),
    };
}

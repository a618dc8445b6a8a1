using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

/// <summary>
/// One SMTP session (RFC 5321). The actor owns the protocol state; the socket is read and written through
/// pipes whose completions arrive as messages, so no actor thread ever waits on the network or the disk.
/// </summary>
/// <remarks>
/// The loop is: read what the client sent, handle every complete command in it (replies are buffered, which
/// is how PIPELINING batches them), write any message data to the spool file, flush the replies, read again.
/// While a message is being delivered nothing is read, so pipelined commands after the data wait in the pipe.
/// </remarks>
public sealed partial class SessionActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private enum Mode
    {
        Commands,
        Data,
        AwaitingVerification,
        AwaitingDelivery,

        // The 220 reply to STARTTLS is being flushed, then the TLS handshake runs; nothing is read meanwhile.
        StartingTls,

        // Reading the octets of a BDAT chunk.
        Chunk,
        Closed,
    }

    private const string IoTimer = "io";

    private readonly MtaSettings _settings;
    private readonly ISessionTransport _transport;
    private readonly string _sessionId;
    private readonly IActorRef _delivery;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _remote;
    private SpoolBuffer? _dataBuffer;

    private Mode _mode = Mode.Commands;
    private bool _closeAfterFlush;
    private bool _discardingLongLine;
    private bool _dataWritePending;
    private bool _spoolFailed;
    private int _commandCount;
    private bool _flushPending;
    private SessionOutcome _outcome = SessionOutcome.Lost;

    /// <summary>
    /// Message bytes on their way to the spool file, or all of a message kept in memory. A message kept in memory
    /// takes the buffer with it, by setting the field to null, and the next message gets a new one.
    /// </summary>
    private SpoolBuffer DataBuffer => _dataBuffer ??= new SpoolBuffer();

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    /// <param name="client">
    /// The client's address for limits, logs and the Received header: the one from a trusted PROXY header, or
    /// null for the transport's remote endpoint.
    /// </param>
    public SessionActor(MtaSettings settings, ISessionTransport transport, string sessionId, IActorRef delivery, IPEndPoint? client = null)
    {
        _settings = settings;
        _transport = transport;
        _sessionId = sessionId;
        _delivery = delivery;
        _client = client ?? transport.RemoteEndPoint;
        _remote = _client?.ToString() ?? "unknown";

        // Each Receive<T> keeps a delegate and a matcher argument per session, so one handler for all these
        // types saves about 1 KB per session (measured with dotnet-gcdump on 4,000 idle sessions).
        Receive<object>(OnSessionMessage);
        ReceiveDefenceMessages();
    }

    public static Props Props(MtaSettings settings, ISessionTransport transport, string sessionId, IActorRef delivery, IPEndPoint? client = null) =>
        Akka.Actor.Props.Create(() => new SessionActor(settings, transport, sessionId, delivery, client));

    /// <summary>Handles a message of the session's own protocol and returns false for any other type.</summary>
    private bool OnSessionMessage(object message)
    {
        switch (message)
        {
            case SessionIo.ReadCompleted read:
                OnReadCompleted(read.Result);
                break;
            case SessionIo.ReadFailed failed:
                OnIoFailed("read", failed.Error);
                break;
            case SessionIo.WriteFailed failed:
                OnIoFailed("write", failed.Error);
                break;
            case SessionIo.SpoolWriteFailed failed:
                OnSpoolWriteFailed(failed.Error);
                break;
            case SessionIo.SpoolCloseFailed failed:
                OnSpoolCloseFailed(failed.Error);
                break;
            case SessionIo.Flushed flushed:
                OnFlushed(flushed.IsCompleted);
                break;
            case SessionIo.DataWritten:
                OnDataWritten();
                break;
            case SessionIo.SpoolClosed closed:
                OnSpoolClosed(closed.Size);
                break;
            case SessionIo.TlsStarted started:
                OnTlsStarted(started.Info);
                break;
            case SessionIo.TlsFailed failed:
                OnTlsFailed(failed.Error);
                break;
            case SessionIo.TimedOut timedOut:
                OnTimedOut(timedOut.Phase);
                break;
            case DeliveryReport report:
                OnDeliveryReport(report);
                break;
            case RecipientVerified verified:
                OnRecipientVerified(verified);
                break;
            case Drain:
                OnDrain();
                break;
            case DrainExpired:
                OnDrainExpired();
                break;
            case InjectFault fault:
                throw new InvalidOperationException("Injected fault: " + fault.Reason);
            default:
                return false;
        }

        return true;
    }

    protected override void PreStart()
    {
        ServerMetrics.SessionStarted();
        _log.Info("{SessionId}: connect from {Remote}", _sessionId, _remote);
        StartGreeting();
    }

    protected override void PostStop()
    {
        if (_mode != Mode.Closed)
        {
            // Stopped without a clean close: by the supervisor after a fault, or at shutdown.
            _log.Warning("{SessionId}: session stopped abnormally, sending 421 to {Remote}", _sessionId, _remote);
            _outcome = CoordinatedShutdown.Get(Context.System).ShutdownReason is null ? SessionOutcome.Error : SessionOutcome.Shutdown;
            TrySendAndClose($"421 4.3.0 {_settings.ServerName} Internal error, closing connection\r\n");
        }

        if (_spool is not null)
        {
            string path = _spoolPath!;
            var spool = _spool;
            _spool = null;
            _ = Task.Run(async () =>
            {
                await spool.DisposeAsync();
                File.Delete(path);
            });
        }

        _log.Info("{SessionId}: disconnect from {Remote} commands={Commands}", _sessionId, _remote, _commandCount);
        ServerMetrics.SessionEnded(_outcome);
    }

    private void TrySendAndClose(string line)
    {
        var transport = _transport;
        try
        {
            transport.Output.Write(Encoding.ASCII.GetBytes(line));
            transport.Output.FlushAsync().AsTask().ContinueWith(_ => transport.Close(), TaskScheduler.Default);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ObjectDisposedException)
        {
            transport.Close();
        }
    }

    private void StartRead()
    {
        StartReadTimer();
        BeginRead();
    }

    private void OnReadCompleted(ReadResult result)
    {
        OnReadReturned();
        if (_mode == Mode.Closed)
        {
            return;
        }

        if (!_greeted)
        {
            OnInputBeforeGreeting(result);
            return;
        }

        Timers.Cancel(IoTimer);
        var buffer = result.Buffer;
        bool needMoreInput = true;
        if (_mode == Mode.Commands)
        {
            needMoreInput = ProcessCommands(ref buffer);
        }

        if (_mode == Mode.Data)
        {
            needMoreInput = ProcessData(ref buffer);
        }
        else if (_mode == Mode.Chunk)
        {
            needMoreInput = ProcessChunk(ref buffer);
        }

        // Examining the whole buffer makes the next read wait for new bytes; that is right only when what is
        // left is an incomplete line. Otherwise the next read returns the leftover at once.
        _transport.Input.AdvanceTo(buffer.Start, needMoreInput ? buffer.End : buffer.Start);

        if (result.IsCompleted && needMoreInput && (_mode == Mode.Commands || IsReadingData))
        {
            string phase = _mode == Mode.Data ? "DATA" : _mode == Mode.Chunk ? "BDAT" : "command";
            _log.Info("{SessionId}: lost connection after {Phase} from {Remote}", _sessionId, phase, _remote);
            Close();
            return;
        }

        ContinueAfterProcessing();
    }

    private void ContinueAfterProcessing()
    {
        if (_dataWritePending || _mode == Mode.Closed)
        {
            return;
        }

        Flush();
    }

    private void Flush()
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = _transport.Output.FlushAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            OnIoFailed("write", ex);
            return;
        }

        if (flush.IsCompletedSuccessfully)
        {
            OnFlushed(flush.Result.IsCompleted);
            return;
        }

        _flushPending = true;
        flush.AsTask().PipeTo(Self,
            success: r => new SessionIo.Flushed(r.IsCompleted),
            failure: error => new SessionIo.WriteFailed(error));
    }

    private void OnFlushed(bool peerClosed)
    {
        _flushPending = false;

        // Messages that write replies wait while a flush runs, since a PipeWriter takes no writes during a flush.
        Stash.UnstashAll();
        if (_mode == Mode.Closed)
        {
            return;
        }

        if (_closeAfterFlush || peerClosed)
        {
            Close();
            return;
        }

        if (_mode == Mode.StartingTls)
        {
            BeginTlsHandshake();
            return;
        }

        if (DrainIfIdle())
        {
            Flush();
            return;
        }

        if (_mode == Mode.Commands || IsReadingData)
        {
            StartRead();
        }
    }

    private void OnIoFailed(string operation, Exception error)
    {
        if (_mode == Mode.Closed)
        {
            return;
        }

        _log.Info("{SessionId}: {Operation} failed for {Remote}: {Error}", _sessionId, operation, _remote, error.Message);
        Close();
    }

    private void OnTimedOut(string phase)
    {
        if (DeferWhileFlushing())
        {
            return;
        }

        if (_mode == Mode.Closed)
        {
            return;
        }

        _log.Info("{SessionId}: timeout after {Phase} from {Remote}", _sessionId, phase, _remote);
        Reply(421, "4.4.2", $"{_settings.ServerName} Timeout, closing connection");
        _outcome = SessionOutcome.Timeout;
        _closeAfterFlush = true;
        _dataWritePending = false;
        Flush();
    }

    /// <summary>Stashes the current message when a flush is running; it is handled again once the flush ends.</summary>
    private bool DeferWhileFlushing()
    {
        if (!_flushPending)
        {
            return false;
        }

        Stash.Stash();
        return true;
    }

    private void Close()
    {
        _mode = Mode.Closed;
        Timers.CancelAll();
        try
        {
            _transport.Input.Complete();
            _transport.Output.Complete();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            // A write still in progress; closing the socket below ends it.
        }

        _transport.Close();
        Context.Stop(Self);
    }

    /// <summary>Buffers one reply line; it reaches the client at the next flush.</summary>
    private void Reply(int code, string? enhancedCode, string text)
    {
        string line = enhancedCode is null ? $"{code} {text}\r\n" : $"{code} {enhancedCode} {text}\r\n";
        WriteUtf8(line);
        CountErrorReply(code);
    }

    /// <summary>Buffers a multiline reply: every line but the last has a hyphen after the code.</summary>
    private void ReplyLines(int code, IReadOnlyList<string> lines)
    {
        for (int i = 0; i < lines.Count; i++)
        {
            WriteUtf8($"{code}{(i == lines.Count - 1 ? ' ' : '-')}{lines[i]}\r\n");
        }
    }

    private void WriteUtf8(string text)
    {
        var output = _transport.Output;
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        int written = Encoding.UTF8.GetBytes(text, output.GetSpan(max));
        output.Advance(written);
    }

    /// <summary>
    /// Buffer for the bytes of a message as it arrives. Its array is made by the first write and not by
    /// <see cref="Clear"/>, which EHLO and RSET call when they reset the transaction, so a session that sends no
    /// message has none.
    /// </summary>
    /// <remarks>
    /// NOTE: after a message too large for memory the grown array, about 256 KB with the default
    /// limits.memory-message-size, stays until the session ends. Dropping it when the message ended made each
    /// further large message of the session grow a new one on the large object heap, with a full GC every few messages.
    /// </remarks>
    private sealed class SpoolBuffer : IBufferWriter<byte>
    {
        private const int InitialCapacity = 16 * 1024;

        private ArrayBufferWriter<byte>? _writer;

        public int WrittenCount => _writer?.WrittenCount ?? 0;

        public ReadOnlyMemory<byte> WrittenMemory => _writer?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty;

        private ArrayBufferWriter<byte> Writer => _writer ??= new ArrayBufferWriter<byte>(InitialCapacity);

        public void Clear() => _writer?.Clear();

        public void Advance(int count) => Writer.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0) => Writer.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => Writer.GetSpan(sizeHint);
    }
}

using System.Buffers;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

// The DATA phase: the message is kept in memory up to limits.memory-message-size and streamed to a spool file
// beyond that, then handed to delivery while the client waits for the reply to its final dot.
public sealed partial class SessionActor
{
    private DataReader? _dataReader;
    private FileStream? _spool;
    private string? _spoolPath;
    private string? _queueId;

    private void Data(string argument)
    {
        if (_transaction is null)
        {
            Reply(503, "5.5.1", "Need MAIL before DATA");
            return;
        }

        if (_transaction.BinaryMime)
        {
            // RFC 3030 section 3: BINARYMIME content cannot be sent with DATA.
            Reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT");
            return;
        }

        if (_transaction.Chunked)
        {
            // RFC 3030 section 2: DATA after BDAT in one transaction; the client must send RSET.
            Reply(503, "5.5.1", "DATA is not allowed after BDAT in the same transaction");
            return;
        }

        if (_transaction.Recipients.Count == 0)
        {
            Reply(554, "5.5.1", "No valid recipients");
            return;
        }

        if (argument.Length > 0)
        {
            Reply(501, "5.5.4", "Syntax: DATA");
            return;
        }

        BeginMessage();
        _dataReader = new DataReader(_settings.MaxMessageSize, _settings.BareLineEndings, maxLineLength: _settings.MaxDataLineLength);
        _mode = Mode.Data;
        StartDataRateCheck();
        Reply(354, null, "End data with <CR><LF>.<CR><LF>");
    }

    /// <summary>Starts the transaction's message with its Received header in the data buffer.</summary>
    private void BeginMessage()
    {
        var transaction = _transaction!;
        _queueId = QueueId.New();
        _spool = null;
        _spoolPath = null;

        // RFC 3848 and RFC 6531 section 3.7.3: an S suffix marks a session under TLS, which only EHLO can start.
        string protocol = (_esmtp || _tls, transaction.SmtpUtf8) switch
        {
            (_, true) => "UTF8SMTP",
            (true, false) => "ESMTP",
            _ => "SMTP",
        } + (_tls ? "S" : "");
        string? single = transaction.Recipients.Count == 1 ? transaction.Recipients[0].Address : null;
        byte[] received = ReceivedHeader.Build(_heloName!, _client?.Address, _settings.ServerName,
            protocol, _queueId, single, DateTimeOffset.Now);
        DataBuffer.Clear();
        DataBuffer.Write(received);
        _spoolFailed = false;
    }

    /// <summary>
    /// Creates the spool file for a message that outgrew limits.memory-message-size. Returns false, after
    /// logging why, when it cannot be created. The message is then read to its end and rejected with 452.
    /// </summary>
    private bool CreateSpoolFile()
    {
        string path = Path.Combine(_settings.SpoolDirectory, "incoming", _queueId!);
        try
        {
            // NOTE: opening the file is a short blocking call on the actor thread; every write after it is asynchronous.
            _spool = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 0, FileOptions.Asynchronous);
            _spoolPath = path;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log.Error("{SessionId}: cannot create spool file {Path}, the message will be rejected: {Error}", _sessionId, path, ex.Message);
            return false;
        }
    }

    /// <summary>Reads message data from the buffer. Returns true when more input is needed.</summary>
    private bool ProcessData(ref ReadOnlySequence<byte> buffer)
    {
        long consumed = _dataReader!.Read(buffer, DataBuffer);
        _dataRateBytes += consumed;
        buffer = buffer.Slice(consumed);
        if (_spoolFailed)
        {
            DataBuffer.Clear();
        }

        // Read before FinishData, which clears the reader when it rejects the message.
        bool completed = _dataReader.IsCompleted;
        if (!StartSpoolWrite() && completed)
        {
            FinishData();
        }

        return !completed;
    }

    /// <summary>
    /// Starts writing the buffered message bytes to the spool file, creating it when the message outgrows the
    /// memory limit. Returns false when nothing is written: none are buffered, or the message stays in memory.
    /// </summary>
    private bool StartSpoolWrite()
    {
        if (DataBuffer.WrittenCount == 0 || _spoolFailed)
        {
            return false;
        }

        if (_spool is null)
        {
            if (DataBuffer.WrittenCount <= _settings.MemoryMessageSize)
            {
                return false;
            }

            if (!CreateSpoolFile())
            {
                _spoolFailed = true;
                DataBuffer.Clear();
                return false;
            }
        }

        _dataWritePending = true;
        _spool!.WriteAsync(DataBuffer.WrittenMemory).AsTask().PipeTo(Self,
            success: () => new SessionIo.DataWritten(),
            failure: error => new SessionIo.SpoolWriteFailed(error));
        return true;
    }

    // The rest of the message is still read, so it is never taken for commands, and then rejected with 452.
    private void OnSpoolWriteFailed(Exception error)
    {
        if (!_spoolFailed)
        {
            _log.Error("{SessionId}: writing spool file {Path} failed, the message will be rejected: {Error}", _sessionId, _spoolPath, error.Message);
        }

        _spoolFailed = true;
        OnDataWritten();
    }

    private void OnSpoolCloseFailed(Exception error)
    {
        if (_mode != Mode.AwaitingDelivery)
        {
            return;
        }

        _log.Error("{SessionId}: closing spool file {Path} failed, rejecting the message: {Error}", _sessionId, _spoolPath, error.Message);
        ServerMetrics.MessageRejectedForStorage();
        string? path = _spoolPath;
        _spoolPath = null;
        if (path is not null)
        {
            _ = Task.Run(() => File.Delete(path));
        }

        Reply(452, "4.3.1", "Insufficient system storage");
        EndTransaction();
        ContinueAfterProcessing();
    }

    private void OnDataWritten()
    {
        _dataWritePending = false;
        DataBuffer.Clear();
        if (_mode == Mode.Data && _dataReader!.IsCompleted)
        {
            FinishData();

            // A rejected message leaves the session in command mode, so its reply is flushed and reading goes on
            // here. An accepted message waits for its delivery report, which flushes the reply itself.
            if (_mode == Mode.Commands)
            {
                ContinueAfterProcessing();
            }

            return;
        }

        if (_mode == Mode.Chunk && _chunkRemaining == 0)
        {
            // As for DATA: a chunk that ends the session's wait for delivery flushes its reply with the report.
            FinishChunk();
            if (_mode == Mode.AwaitingDelivery)
            {
                return;
            }
        }

        ContinueAfterProcessing();
    }

    private void FinishData()
    {
        var reader = _dataReader!;
        ServerMetrics.MessageReceived(reader.MessageSize);
        string? rejection = reader.Error switch
        {
            DataError.MessageTooLarge => "552 5.3.4 Message size exceeds fixed maximum message size",
            DataError.BareLineEnding => "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF",
            DataError.NulCharacter => "550 5.6.0 Message contains a NUL character",
            DataError.LineTooLong => $"552 5.3.4 Message contains a line longer than {_settings.MaxDataLineLength} octets",
            _ when _spoolFailed => "452 4.3.1 Insufficient system storage",
            _ => null,
        };

        if (rejection is not null)
        {
            _log.Info("{SessionId}: reject: DATA from {Remote}: {Reply}; from=<{From}> size={Size}",
                _sessionId, _remote, rejection, _transaction!.ReversePath?.Address ?? "", reader.MessageSize);
            ServerMetrics.MessageRejected(reader.Error);
            DiscardSpoolFile();
            WriteUtf8(rejection + "\r\n");
            EndTransaction();
            return;
        }

        // The reply waits for delivery; stop the data timer and let the delivery timeout govern.
        _mode = Mode.AwaitingDelivery;
        CompleteMessage(reader.MessageSize);
    }

    /// <summary>Hands a complete message to delivery: at once when it is in memory, after closing its spool file otherwise.</summary>
    private void CompleteMessage(long size)
    {
        var spool = _spool;
        _spool = null;
        if (spool is null)
        {
            // The buffer goes with the message, so the next message gets a new one.
            var data = MessageData.FromMemory(DataBuffer.WrittenMemory);
            _dataBuffer = null;
            OnMessageStored(data, size);
            return;
        }

        CloseSpool(spool).PipeTo(Self,
            success: () => new SessionIo.SpoolClosed(size),
            failure: error => new SessionIo.SpoolCloseFailed(error));
    }

    private static async Task CloseSpool(FileStream spool)
    {
        await spool.FlushAsync();
        await spool.DisposeAsync();
    }

    private void OnSpoolClosed(long size)
    {
        string path = _spoolPath!;
        _spoolPath = null;
        OnMessageStored(MessageData.FromFile(path), size);
    }

    private void OnMessageStored(MessageData data, long size)
    {
        var transaction = _transaction!;
        var envelope = new MessageEnvelope(transaction.ReversePath, transaction.Recipients.ToList(), transaction.Parameters)
        {
            RecipientParameters = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>>(transaction.RecipientParameters, StringComparer.Ordinal),
        };
        _log.Info("{QueueId}: accepted from=<{From}> size={Size} nrcpt={RecipientCount} client={Remote} session={SessionId}",
            _queueId, envelope.SenderText, size, envelope.Recipients.Count, _remote, _sessionId);
        _delivery.Tell(new DeliverMessage(_queueId!, envelope, data, size));

        // A safety net past the delivery timeout, for a delivery actor that never answers.
        Timers.StartSingleTimer(IoTimer, new SessionIo.TimedOut("delivery"), _settings.DeliveryTimeout + TimeSpan.FromSeconds(30));
    }

    private void OnDeliveryReport(DeliveryReport report)
    {
        if (DeferWhileFlushing())
        {
            return;
        }

        if (_mode != Mode.AwaitingDelivery || report.QueueId != _queueId)
        {
            return;
        }

        Timers.Cancel(IoTimer);
        if (report.Queued)
        {
            // The message and its envelope are fsynced in the queue: the 250 is a promise the queue keeps.
            ServerMetrics.MessageAccepted();
            Reply(250, "2.0.0", $"Ok: queued as {report.QueueId}");
        }
        else if (report.AllDelivered)
        {
            ServerMetrics.MessageAccepted();
            Reply(250, "2.0.0", $"Ok: delivered as {report.QueueId}");
        }
        else if (report.AnyDeferred)
        {
            // Deferred and not queued: the queue could not take the message (disk full, say).
            ServerMetrics.MessageRejectedForStorage();
            Reply(451, "4.3.0", "Temporary local problem, try again later");
        }
        else if (report.AllBounced)
        {
            var first = report.Results[0].Reply;
            Reply(550, first.EnhancedCode ?? "5.0.0", $"Delivery failed for every recipient ({first})");
        }
        else
        {
            // Some recipients were delivered and the rest rejected for good: the message is accepted, and each
            // rejected recipient was logged as bounced.
            ServerMetrics.MessageAccepted();
            Reply(250, "2.0.0", $"Ok: delivered as {report.QueueId} to some recipients");
        }

        EndTransaction();
        ContinueAfterProcessing();
    }

    private void EndTransaction()
    {
        _transaction = null;
        _dataReader = null;
        _queueId = null;
        _chunkRemaining = 0;
        _mode = Mode.Commands;
        DrainIfIdle();
    }

    private void DiscardSpoolFile()
    {
        // Bytes not yet written belong to the discarded file. Left behind (the Received header after "BDAT 0", say),
        // they would be written by the next chunk read without a spool file.
        DataBuffer.Clear();
        var spool = _spool;
        string? path = _spoolPath;
        _spool = null;
        _spoolPath = null;
        if (spool is null || path is null)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await spool.DisposeAsync();
            File.Delete(path);
        });
    }
}

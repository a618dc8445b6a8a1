using System.Buffers;
using System.Globalization;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

// CHUNKING and BINARYMIME (RFC 3030). "BDAT size [LAST]" is followed by exactly size octets of message
// content, buffered like DATA's as they arrive, without dot-unstuffing or any search for an end of data.
// Once the size parses, its octets are always read, also when the chunk is rejected, so message content is
// never taken for commands. A rejected chunk ends the transaction, and the chunks a pipelining client sent
// after it are read and rejected in turn (RFC 3030 section 2).
public sealed partial class SessionActor
{
    private long _chunkRemaining;
    private long _chunkSize;
    private bool _chunkLast;

    // The reply for a chunk that is read only to be discarded, and whether that reply ends the transaction.
    private string? _chunkRejection;
    private bool _chunkRejectionEndsTransaction;

    private bool IsReadingData => _mode is Mode.Data or Mode.Chunk;

    private void Bdat(string argument)
    {
        if (!TryParseBdat(argument, out long size, out bool last))
        {
            // NOTE: without a valid size the chunk cannot be separated from the commands after it, so its octets are read as commands.
            Reply(501, "5.5.4", "Syntax: BDAT size [LAST]");
            return;
        }

        _chunkSize = size;
        _chunkRemaining = size;
        _chunkLast = last;
        _chunkRejection = null;
        _chunkRejectionEndsTransaction = false;
        _mode = Mode.Chunk;
        StartDataRateCheck();

        var transaction = _transaction;
        if (transaction is null)
        {
            _chunkRejection = "503 5.5.1 Need MAIL before BDAT";
        }
        else if (transaction.Recipients.Count == 0)
        {
            _chunkRejection = "503 5.5.1 Need RCPT before BDAT";
        }
        else if (size > _settings.MaxMessageSize - transaction.ChunkedSize)
        {
            RejectChunk("552 5.3.4 Message size exceeds fixed maximum message size", DataError.MessageTooLarge);
        }
        else
        {
            if (!transaction.Chunked)
            {
                BeginMessage();
            }

            transaction.Chunked = true;
            transaction.ChunkedSize += size;
        }

        // Even an empty chunk goes through ProcessChunk, which writes the Received header still buffered for a
        // message whose first chunk is empty before it replies.
    }

    // bdat-cmd = "BDAT" SP chunk-size [SP end-marker], chunk-size = 1*DIGIT, end-marker = "LAST" (RFC 3030 section 2).
    private static bool TryParseBdat(string argument, out long size, out bool last)
    {
        string[] words = argument.Split(' ');
        last = words.Length == 2 && string.Equals(words[1], "LAST", StringComparison.OrdinalIgnoreCase);
        bool validShape = words.Length == 1 || last;
        size = 0;
        return validShape && long.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out size);
    }

    private void RejectChunk(string reply, DataError error)
    {
        _chunkRejection = reply;
        _chunkRejectionEndsTransaction = true;
        if (error != DataError.None)
        {
            ServerMetrics.MessageRejected(error);
        }
    }

    /// <summary>Reads the current chunk's octets from the buffer. Returns true when more input is needed.</summary>
    private bool ProcessChunk(ref ReadOnlySequence<byte> buffer)
    {
        long take = Math.Min(_chunkRemaining, buffer.Length);
        var piece = buffer.Slice(0, take);
        buffer = buffer.Slice(take);
        _chunkRemaining -= take;
        _dataRateBytes += take;
        if (_chunkRejection is null && !_spoolFailed)
        {
            foreach (ReadOnlyMemory<byte> segment in piece)
            {
                DataBuffer.Write(segment.Span);
                if (segment.Span.Contains((byte)0))
                {
                    _transaction!.ChunksContainNul = true;
                }
            }
        }
        else
        {
            // A rejected chunk ends the transaction, so nothing buffered for its spool file is written any more.
            DataBuffer.Clear();
        }

        bool completed = _chunkRemaining == 0;
        if (!StartSpoolWrite() && completed)
        {
            FinishChunk();
        }

        return !completed;
    }

    /// <summary>Replies to a chunk whose octets have all been read, and hands the message to delivery after LAST.</summary>
    private void FinishChunk()
    {
        _mode = Mode.Commands;
        if (_chunkRejection is null && _spoolFailed)
        {
            ServerMetrics.MessageRejectedForStorage();
            _chunkRejection = "452 4.3.1 Insufficient system storage";
            _chunkRejectionEndsTransaction = true;
        }

        if (_chunkRejection is null && _chunkLast && _transaction!.ChunksContainNul && !_transaction.BinaryMime)
        {
            ServerMetrics.MessageRejected(DataError.NulCharacter);
            _chunkRejection = "550 5.6.0 Message contains a NUL character; send it with BODY=BINARYMIME";
            _chunkRejectionEndsTransaction = true;
        }

        if (_chunkRejection is not null)
        {
            _log.Info("{SessionId}: reject: BDAT from {Remote}: {Reply}; from=<{From}> size={Size}",
                _sessionId, _remote, _chunkRejection, _transaction?.ReversePath?.Address ?? "", _chunkSize);
            WriteUtf8(_chunkRejection + "\r\n");
            if (_chunkRejectionEndsTransaction)
            {
                DiscardSpoolFile();
                EndTransaction();
            }

            return;
        }

        var transaction = _transaction!;
        if (!_chunkLast)
        {
            Reply(250, "2.0.0", $"Ok: {_chunkSize} octets received");
            return;
        }

        ServerMetrics.MessageReceived(transaction.ChunkedSize);
        _mode = Mode.AwaitingDelivery;
        CompleteMessage(transaction.ChunkedSize);
    }

    /// <summary>Ends the transaction and deletes the spool file of a message whose chunks were not all received.</summary>
    private void ResetTransaction()
    {
        _transaction = null;
        DiscardSpoolFile();
        DataBuffer.Clear();
        _queueId = null;
    }
}

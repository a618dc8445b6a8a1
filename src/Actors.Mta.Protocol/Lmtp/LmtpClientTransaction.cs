using System.Buffers;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>The MAIL, RCPT and DATA steps of <see cref="LmtpClient.SendAsync"/>.</summary>
public sealed partial class LmtpClient
{
    private sealed record Transaction(
        string MailCommand,
        string[] RcptCommands,
        Stream Message,
        TimeSpan ReplyTimeout,
        CancellationToken CancellationToken);

    /// <summary>
    /// Sends MAIL, every RCPT and DATA in one write, then reads their replies in order (RFC 2920 section 3.1).
    /// </summary>
    private async Task<LmtpTransactionResult> SendPipelinedAsync(Transaction transaction)
    {
        WriteCommand(transaction.MailCommand);
        foreach (string rcptCommand in transaction.RcptCommands)
        {
            WriteCommand(rcptCommand);
        }

        WriteCommand("DATA");

        // The replies are read while the flush runs. With many recipients, a server that blocks writing replies
        // while this client blocks writing commands would otherwise leave both waiting.
        Task flush = FlushAsync(transaction.ReplyTimeout, transaction.CancellationToken);
        SmtpReply mailReply;
        var rcptReplies = new SmtpReply[transaction.RcptCommands.Length];
        SmtpReply dataReply;
        try
        {
            mailReply = await ReadReplyAsync("MAIL", transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
            for (int i = 0; i < rcptReplies.Length; i++)
            {
                rcptReplies[i] = await ReadReplyAsync("RCPT", transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
            }

            dataReply = await ReadReplyAsync("DATA", transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The read failure is the error to report. The flush fails too once the socket closes.
            _ = flush.ContinueWith(static task => _ = task.Exception, TaskContinuationOptions.OnlyOnFaulted);
            throw;
        }

        await flush.ConfigureAwait(false);
        ThrowIfClosing(mailReply);

        if (!IsPositive(mailReply))
        {
            // Without a transaction the server rejects the pipelined RCPTs too. Their replies were read to keep the
            // replies in step with the commands, and each recipient reports the MAIL reply as the cause.
            await EndUnwantedDataAsync(dataReply, transaction).ConfigureAwait(false);
            return MailRejected(mailReply, rcptReplies.Length);
        }

        return await CompleteDataAsync(transaction, mailReply, rcptReplies, dataReply).ConfigureAwait(false);
    }

    /// <summary>Sends each command and waits for its reply before the next one, for servers without PIPELINING.</summary>
    private async Task<LmtpTransactionResult> SendSequentiallyAsync(Transaction transaction)
    {
        SmtpReply mailReply = await SendCommandAsync(transaction.MailCommand, "MAIL", transaction).ConfigureAwait(false);
        ThrowIfClosing(mailReply);
        if (!IsPositive(mailReply))
        {
            return MailRejected(mailReply, transaction.RcptCommands.Length);
        }

        var rcptReplies = new SmtpReply[transaction.RcptCommands.Length];
        for (int i = 0; i < rcptReplies.Length; i++)
        {
            rcptReplies[i] = await SendCommandAsync(transaction.RcptCommands[i], "RCPT", transaction).ConfigureAwait(false);
        }

        if (!rcptReplies.Any(IsPositive))
        {
            return new LmtpTransactionResult(mailReply, rcptReplies, new SmtpReply?[rcptReplies.Length]);
        }

        SmtpReply dataReply = await SendCommandAsync("DATA", "DATA", transaction).ConfigureAwait(false);
        return await CompleteDataAsync(transaction, mailReply, rcptReplies, dataReply).ConfigureAwait(false);
    }

    private async Task<SmtpReply> SendCommandAsync(string command, string verb, Transaction transaction)
    {
        WriteCommand(command);
        await FlushAsync(transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
        return await ReadReplyAsync(verb, transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Acts on the DATA reply once MAIL was accepted: sends the message after a 354 and reads one reply per
    /// accepted recipient, in RCPT order (RFC 2033 section 4.2).
    /// </summary>
    private async Task<LmtpTransactionResult> CompleteDataAsync(
        Transaction transaction,
        SmtpReply mailReply,
        SmtpReply[] rcptReplies,
        SmtpReply dataReply)
    {
        var dataReplies = new SmtpReply?[rcptReplies.Length];
        if (!rcptReplies.Any(IsPositive))
        {
            await EndUnwantedDataAsync(dataReply, transaction).ConfigureAwait(false);
            return new LmtpTransactionResult(mailReply, rcptReplies, dataReplies);
        }

        if (dataReply.Code != 354)
        {
            for (int i = 0; i < rcptReplies.Length; i++)
            {
                dataReplies[i] = IsPositive(rcptReplies[i]) ? dataReply : null;
            }

            return new LmtpTransactionResult(mailReply, rcptReplies, dataReplies);
        }

        await SendMessageAsync(transaction).ConfigureAwait(false);
        for (int i = 0; i < rcptReplies.Length; i++)
        {
            if (IsPositive(rcptReplies[i]))
            {
                dataReplies[i] = await ReadReplyAsync("end of data", transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
            }
        }

        return new LmtpTransactionResult(mailReply, rcptReplies, dataReplies) { NeedsReset = false };
    }

    /// <summary>
    /// Handles a pipelined DATA that the server accepted with 354 although no recipient was accepted. By RFC 2920
    /// section 3.1 the client then sends a single dot. RFC 2033 would expect no reply after it because no recipient
    /// was accepted, but a server that sends 354 here does not follow RFC 2033, so one reply is read, as an SMTP
    /// server sends, and dropped.
    /// </summary>
    /// <remarks>
    /// NOTE: a server that sends no reply after the dot makes this wait fail with <see cref="TimeoutException"/>.
    /// </remarks>
    private async Task EndUnwantedDataAsync(SmtpReply dataReply, Transaction transaction)
    {
        if (dataReply.Code != 354)
        {
            return;
        }

        new DotStuffer().Complete(output);
        await FlushAsync(transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
        await ReadReplyAsync("end of data", transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams the message dot-stuffed in chunks of <see cref="DataChunkSize"/>, so memory use does not grow with
    /// the message size. Each flush must finish within the reply timeout.
    /// </summary>
    private async Task SendMessageAsync(Transaction transaction)
    {
        var stuffer = new DotStuffer();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DataChunkSize);
        try
        {
            while (true)
            {
                int read = await transaction.Message.ReadAsync(buffer.AsMemory(0, DataChunkSize), transaction.CancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                stuffer.Write(buffer.AsSpan(0, read), output);

                // The last chunk goes out with the terminating dot, in one write.
                if (transaction.Message.CanSeek && transaction.Message.Position >= transaction.Message.Length)
                {
                    break;
                }

                await FlushAsync(transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
            }

            stuffer.Complete(output);
            await FlushAsync(transaction.ReplyTimeout, transaction.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static LmtpTransactionResult MailRejected(SmtpReply mailReply, int recipientCount) =>
        new(mailReply, Enumerable.Repeat(mailReply, recipientCount).ToArray(), new SmtpReply?[recipientCount]) { NeedsReset = false };

    private static bool IsPositive(SmtpReply reply) => reply.Code / 100 == 2;

    // A 421 in reply to MAIL can come from a server that closed an idle connection before this transaction began,
    // so it says nothing about this message. It is thrown as a connection failure, which a caller can retry on a
    // new connection, because nothing of the message was sent yet.
    private void ThrowIfClosing(SmtpReply mailReply)
    {
        if (mailReply.Code == 421)
        {
            throw new LmtpProtocolException($"LMTP server {endpoint} is closing the connection: {mailReply}", mailReply);
        }
    }
}

using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Lmtp;

public sealed partial class LmtpClient
{
    /// <summary>
    /// Asks whether the server would take mail for <paramref name="recipient"/>: MAIL FROM:&lt;&gt;, RCPT, then RSET,
    /// so no message is ever sent. Returns the RCPT reply, or the MAIL reply when MAIL is rejected.
    /// </summary>
    public async Task<SmtpReply> VerifyRecipientAsync(Mailbox recipient, TimeSpan replyTimeout, CancellationToken cancellationToken)
    {
        string rcpt = LmtpCommandBuilder.BuildRcptTo(recipient);
        BeginOperation();
        try
        {
            WriteCommand("MAIL FROM:<>");
            await FlushAsync(replyTimeout, cancellationToken).ConfigureAwait(false);
            SmtpReply mail = await ReadReplyAsync("MAIL", replyTimeout, cancellationToken).ConfigureAwait(false);
            SmtpReply result = mail;
            if (mail.IsPositive)
            {
                WriteCommand(rcpt);
                await FlushAsync(replyTimeout, cancellationToken).ConfigureAwait(false);
                result = await ReadReplyAsync("RCPT", replyTimeout, cancellationToken).ConfigureAwait(false);
            }

            WriteCommand("RSET");
            await FlushAsync(replyTimeout, cancellationToken).ConfigureAwait(false);
            SmtpReply reset = await ReadReplyAsync("RSET", replyTimeout, cancellationToken).ConfigureAwait(false);
            if (reset.Code != 250)
            {
                throw new LmtpProtocolException($"LMTP server {endpoint} rejected RSET: {reset}", reset);
            }

            return result;
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
}

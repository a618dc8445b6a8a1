using System.Globalization;
using Actors.Mta.Core.Spool;
using MimeKit;

namespace Actors.Mta.Core.Queue;

/// <summary>A recipient that failed for good, with the reply that gives the reason.</summary>
public sealed record FailedRecipient(string Address, string Reply, string Status)
{
    /// <summary>The RCPT's ORCPT, decoded, as "address-type;address" (RFC 3461 section 4.2), or null.</summary>
    public string? OriginalRecipient { get; init; }
}

/// <summary>What the sender asked for in the DSN parameters of MAIL (RFC 3461 section 4.3 and 4.4).</summary>
/// <param name="EnvelopeId">The decoded ENVID, returned as Original-Envelope-Id, or null.</param>
/// <param name="ReturnFullMessage">True for RET=FULL: the whole message is returned instead of its header.</param>
public sealed record NotificationOptions(string? EnvelopeId, bool ReturnFullMessage)
{
    public static readonly NotificationOptions Default = new(null, false);
}

/// <summary>
/// Builds delivery status notifications (RFC 3464): a multipart/report with a text part for people, a
/// message/delivery-status part for programs, and the headers of the original message (RFC 6522).
/// </summary>
public static class DeliveryStatusNotification
{
    /// <param name="original">The original message. Only its header is read, unless RET=FULL requests all of it.</param>
    public static byte[] Build(string serverName, string queueId, string sender, DateTimeOffset arrival,
        IReadOnlyList<FailedRecipient> failed, MessageData original, NotificationOptions? options = null)
    {
        options ??= NotificationOptions.Default;
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@" + serverName));
        message.To.Add(MailboxAddress.Parse(sender));
        message.Subject = "Undelivered Mail Returned to Sender";
        message.Date = DateTimeOffset.Now;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(serverName);

        // RFC 3834: an automatic reply, to which auto-responders must not reply.
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = HumanText(serverName, failed, options.ReturnFullMessage) });
        report.Add(StatusPart(serverName, queueId, arrival, failed, options.EnvelopeId));
        report.Add(options.ReturnFullMessage ? OriginalMessage(original) : OriginalHeaders(original));
        message.Body = report;

        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        using var output = new MemoryStream();
        message.WriteTo(format, output);
        return output.ToArray();
    }

    private static string HumanText(string serverName, IReadOnlyList<FailedRecipient> failed, bool fullMessage)
    {
        var text = new System.Text.StringBuilder();
        text.Append("This is the mail system at ").Append(serverName).Append(".\r\n\r\n");
        text.Append("Your message could not be delivered to one or more recipients.\r\n");
        text.Append(fullMessage ? "Your message is attached.\r\n\r\n" : "The headers of your message are attached.\r\n\r\n");
        foreach (var recipient in failed)
        {
            text.Append('<').Append(recipient.Address).Append(">: ").Append(recipient.Reply).Append("\r\n");
        }

        return text.ToString();
    }

    private static MessageDeliveryStatus StatusPart(string serverName, string queueId, DateTimeOffset arrival,
        IReadOnlyList<FailedRecipient> failed, string? envelopeId)
    {
        var status = new MessageDeliveryStatus();
        var perMessage = new HeaderList();

        // RFC 3464 section 2.2: Original-Envelope-Id comes first among the per-message fields.
        if (envelopeId is not null)
        {
            perMessage.Add("Original-Envelope-Id", envelopeId);
        }

        perMessage.Add("Reporting-MTA", "dns; " + serverName);
        perMessage.Add("X-Actors-Mta-Queue-ID", queueId);
        perMessage.Add("Arrival-Date", MimeKit.Utils.DateUtils.FormatDate(arrival));
        status.StatusGroups.Add(perMessage);
        foreach (var recipient in failed)
        {
            var fields = new HeaderList();

            // RFC 3464 section 2.3: Original-Recipient comes before Final-Recipient.
            if (recipient.OriginalRecipient is not null)
            {
                fields.Add("Original-Recipient", recipient.OriginalRecipient);
            }

            fields.Add("Final-Recipient", "rfc822; " + recipient.Address);
            fields.Add("Action", "failed");
            fields.Add("Status", recipient.Status);
            fields.Add("Diagnostic-Code", "smtp; " + recipient.Reply);
            status.StatusGroups.Add(fields);
        }

        return status;
    }

    private static MimePart OriginalHeaders(MessageData original)
    {
        var headers = new MemoryStream();
        try
        {
            using var stream = original.OpenRead();
            var parser = new MimeParser(stream, MimeFormat.Entity);
            var list = parser.ParseHeaders();
            list.WriteTo(headers);
        }
        catch (Exception ex) when (ex is IOException or FormatException)
        {
            // The headers are a courtesy to the sender; a notification without them is still correct.
        }

        headers.Position = 0;
        return new MimePart("text", "rfc822-headers") { Content = new MimeContent(headers) };
    }

    // RET=FULL: the original as stored, Received header included, as message/rfc822 (RFC 3462 section 2).
    private static MimeEntity OriginalMessage(MessageData original)
    {
        byte[] bytes;
        try
        {
            bytes = original.ReadAllBytes();
        }
        catch (IOException)
        {
            // The message is a courtesy to the sender; fall back to what can still be read, which may be nothing.
            return OriginalHeaders(original);
        }

        return new MimePart("message", "rfc822") { Content = new MimeContent(new MemoryStream(bytes)) };
    }

    /// <summary>Returns the enhanced status code of a reply such as "550 5.1.1 User unknown", or a default from its class.</summary>
    public static string StatusOf(int code, string? enhancedCode) =>
        enhancedCode ?? (code >= 500 ? "5.0.0" : code >= 400 ? "4.0.0" : "2.0.0").ToString(CultureInfo.InvariantCulture);
}

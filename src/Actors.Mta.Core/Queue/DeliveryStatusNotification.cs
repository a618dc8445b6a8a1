using System.Globalization;
using MimeKit;

namespace Actors.Mta.Core.Queue;

/// <summary>A recipient that failed for good, with the reply that says why.</summary>
public sealed record FailedRecipient(string Address, string Reply, string Status);

/// <summary>
/// Builds delivery status notifications (RFC 3464): a multipart/report with a text part for people, a
/// message/delivery-status part for programs, and the headers of the original message (RFC 6522).
/// </summary>
public static class DeliveryStatusNotification
{
    /// <param name="originalFile">The original message; only its header is read.</param>
    public static byte[] Build(string serverName, string queueId, string sender, DateTimeOffset arrival,
        IReadOnlyList<FailedRecipient> failed, string originalFile)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@" + serverName));
        message.To.Add(MailboxAddress.Parse(sender));
        message.Subject = "Undelivered Mail Returned to Sender";
        message.Date = DateTimeOffset.Now;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(serverName);

        // RFC 3834: an automatic reply, which auto-responders must not answer.
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = HumanText(serverName, failed) });
        report.Add(StatusPart(serverName, queueId, arrival, failed));
        report.Add(OriginalHeaders(originalFile));
        message.Body = report;

        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var output = new MemoryStream();
        message.WriteTo(options, output);
        return output.ToArray();
    }

    private static string HumanText(string serverName, IReadOnlyList<FailedRecipient> failed)
    {
        var text = new System.Text.StringBuilder();
        text.Append("This is the mail system at ").Append(serverName).Append(".\r\n\r\n");
        text.Append("Your message could not be delivered to one or more recipients.\r\n");
        text.Append("The headers of your message are attached.\r\n\r\n");
        foreach (var recipient in failed)
        {
            text.Append('<').Append(recipient.Address).Append(">: ").Append(recipient.Reply).Append("\r\n");
        }

        return text.ToString();
    }

    private static MessageDeliveryStatus StatusPart(string serverName, string queueId, DateTimeOffset arrival, IReadOnlyList<FailedRecipient> failed)
    {
        var status = new MessageDeliveryStatus();
        var perMessage = new HeaderList
        {
            { "Reporting-MTA", "dns; " + serverName },
            { "X-Actors-Mta-Queue-ID", queueId },
            { "Arrival-Date", MimeKit.Utils.DateUtils.FormatDate(arrival) },
        };
        status.StatusGroups.Add(perMessage);
        foreach (var recipient in failed)
        {
            status.StatusGroups.Add(new HeaderList
            {
                { "Final-Recipient", "rfc822; " + recipient.Address },
                { "Action", "failed" },
                { "Status", recipient.Status },
                { "Diagnostic-Code", "smtp; " + recipient.Reply },
            });
        }

        return status;
    }

    private static MimePart OriginalHeaders(string originalFile)
    {
        var headers = new MemoryStream();
        try
        {
            using var stream = File.OpenRead(originalFile);
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

    /// <summary>Returns the enhanced status code of a reply such as "550 5.1.1 User unknown", or a default from its class.</summary>
    public static string StatusOf(int code, string? enhancedCode) =>
        enhancedCode ?? (code >= 500 ? "5.0.0" : code >= 400 ? "4.0.0" : "2.0.0").ToString(CultureInfo.InvariantCulture);
}

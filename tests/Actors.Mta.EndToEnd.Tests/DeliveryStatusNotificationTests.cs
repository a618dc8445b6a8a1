using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using MimeKit;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Per-recipient results after the data: Dovecot delivers to one recipient and rejects another for good, so the
/// client gets 250 and the sender, a local user here, gets one delivery status notification (RFC 3464).
/// </summary>
public sealed class DeliveryStatusNotificationTests : EndToEndTest
{
    private const string Sender = "bob@example.com";
    private const string Alice = "alice@example.com";
    private static readonly TimeSpan NotificationWait = TimeSpan.FromSeconds(30);

    // The queue scans once a second in the root configuration; a second notification would arrive within a few scans.
    private static readonly TimeSpan SecondNotificationWait = TimeSpan.FromSeconds(4);

    public DeliveryStatusNotificationTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    /// <summary>
    /// The message is twice as large as the small user's quota. Dovecot accepts that user at RCPT (it checks
    /// quota only with the data unless lmtp_rcpt_check_quota is set) and replies 552 5.2.2 after the data.
    /// </summary>
    [Fact]
    public async Task OneRecipientOverQuota_SenderGetsOneReport()
    {
        var token = Guid.NewGuid().ToString("N");
        var message = MessageLargerThanQuota(token);
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO report.e2e.test");
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        var alice = await smtp.CommandAsync($"RCPT TO:<{Alice}>");
        var small = await smtp.CommandAsync($"RCPT TO:<{DovecotFixture.SmallQuotaUser}>");
        await smtp.CommandAsync("DATA");
        await smtp.SendDataAsync(message);
        var final = await smtp.ReadReplyAsync();
        await smtp.CommandAsync("QUIT");
        Output.WriteLine(smtp.Transcript);

        var reports = await WaitForReportsAsync(mark, token);
        Output.WriteLine($"--- {reports.Count} notification(s) for {Sender}");
        foreach (var report in reports)
        {
            Output.WriteLine(Encoding.UTF8.GetString(report.Content));
        }

        Assert.True(alice.Code == 250, smtp.Transcript);
        Assert.True(small.Code == 250, smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, Alice, message, Sender);
        Assert.Empty(mark.NewMessages(Dovecot, DovecotFixture.SmallQuotaUser));

        var stored = Assert.Single(reports);
        Assert.StartsWith("Return-Path: <>\r\n", Encoding.ASCII.GetString(stored.Content));
        var notification = MimeMessage.Load(new MemoryStream(stored.Content));
        var multipart = Assert.IsType<MultipartReport>(notification.Body);
        Assert.Equal("delivery-status", multipart.ReportType);
        var status = Assert.Single(multipart.OfType<MessageDeliveryStatus>());
        Assert.Equal($"dns; {ServerProcess.TestServerName}", status.StatusGroups[0]["Reporting-MTA"]);

        // MimeKit may return an empty group for the blank line that ends the part, so groups are picked by field.
        var recipient = Assert.Single(status.StatusGroups, group => group.Contains("Final-Recipient"));
        Assert.Equal($"rfc822; {DovecotFixture.SmallQuotaUser}", recipient["Final-Recipient"]);
        Assert.Equal("failed", recipient["Action"]);
        Assert.Equal("5.2.2", recipient["Status"]);
        Assert.Contains("552", recipient["Diagnostic-Code"]);
        var original = Assert.Single(multipart.OfType<TextRfc822Headers>());
        Assert.Equal($"{token}@report.e2e.test", original.Message.MessageId);
    }

    /// <summary>
    /// Waits for the sender's first notification about the message with <paramref name="token"/>, then a little
    /// longer so that a second one would arrive too, and returns all of them.
    /// </summary>
    private async Task<List<MaildirMessage>> WaitForReportsAsync(MailboxMark mark, string token)
    {
        var deadline = DateTime.UtcNow + NotificationWait;
        while (DateTime.UtcNow < deadline && ReportsAbout(mark, token).Count == 0)
        {
            await Task.Delay(250);
        }

        await Task.Delay(SecondNotificationWait);
        return ReportsAbout(mark, token);
    }

    private List<MaildirMessage> ReportsAbout(MailboxMark mark, string token) =>
        mark.NewMessages(Dovecot, Sender)
            .Where(m => Encoding.ASCII.GetString(m.Content).Contains(token, StringComparison.Ordinal))
            .ToList();

    private static byte[] MessageLargerThanQuota(string token)
    {
        var text = new StringBuilder();
        text.Append($"From: {Sender}\r\nTo: {Alice}, {DovecotFixture.SmallQuotaUser}\r\n");
        text.Append($"Subject: Over quota for one recipient\r\nMessage-ID: <{token}@report.e2e.test>\r\n\r\n");
        for (var i = 0; i < DovecotFixture.SmallQuotaKilobytes * 2 * 1024 / 78; i++)
        {
            text.Append(new string('x', 76)).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}

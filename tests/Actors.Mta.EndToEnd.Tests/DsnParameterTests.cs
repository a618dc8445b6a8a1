using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using MimeKit;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The DSN parameters of RFC 3461 in the server's own notifications: Dovecot delivers to one recipient and rejects
/// the over-quota one after the data, and the sender's NOTIFY, RET, ENVID and ORCPT decide what report follows.
/// </summary>
public sealed class DsnParameterTests : EndToEndTest
{
    private const string Sender = "bob@example.com";
    private const string Alice = "alice@example.com";
    private static readonly TimeSpan NotificationWait = TimeSpan.FromSeconds(30);

    // The queue scans once a second in the root configuration, so a notification would arrive within a few scans.
    private static readonly TimeSpan AbsentNotificationWait = TimeSpan.FromSeconds(6);

    public DsnParameterTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Fact]
    public async Task NotifyNever_SenderGetsNoReport()
    {
        var token = Guid.NewGuid().ToString("N");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var final = await SendAsync(server.Port, "", "NOTIFY=NEVER", MessageLargerThanQuota(token));
        await Task.Delay(AbsentNotificationWait);

        Assert.Equal(250, final.Code);
        Assert.Single(mark.NewMessages(Dovecot, Alice));
        Assert.Empty(ReportsAbout(mark, token));
    }

    [Fact]
    public async Task RetFullWithIds_ReportCarriesThem()
    {
        var token = Guid.NewGuid().ToString("N");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var final = await SendAsync(server.Port, $"RET=FULL ENVID=env+2B{token}",
            "NOTIFY=FAILURE ORCPT=rfc822;original+2Bsmall@example.com", MessageLargerThanQuota(token));
        var report = await WaitForReportAsync(mark, token);
        Output.WriteLine(Encoding.UTF8.GetString(report.Content));

        Assert.Equal(250, final.Code);
        var multipart = Assert.IsType<MultipartReport>(MimeMessage.Load(new MemoryStream(report.Content)).Body);
        var status = Assert.Single(multipart.OfType<MessageDeliveryStatus>());
        Assert.Equal($"env+{token}", status.StatusGroups[0]["Original-Envelope-Id"]);
        var recipient = Assert.Single(status.StatusGroups, group => group.Contains("Final-Recipient"));
        Assert.Equal("rfc822;original+small@example.com", recipient["Original-Recipient"]);
        Assert.Equal($"rfc822; {DovecotFixture.SmallQuotaUser}", recipient["Final-Recipient"]);
        var returned = Assert.Single(multipart.OfType<MessagePart>(), part => part is not TextRfc822Headers);
        Assert.Equal("message/rfc822", returned.ContentType.MimeType);
        Assert.Contains(new string('x', 76), returned.Message.TextBody);
        Assert.Empty(multipart.OfType<TextRfc822Headers>());
    }

    private static async Task<SmtpReply> SendAsync(int port, string mailParameters, string smallUserParameters, byte[] message)
    {
        await using var smtp = await SmtpLineClient.ConnectAsync(port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO dsn.e2e.test");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}> {mailParameters}".TrimEnd());
        var alice = await smtp.CommandAsync($"RCPT TO:<{Alice}>");
        var small = await smtp.CommandAsync($"RCPT TO:<{DovecotFixture.SmallQuotaUser}> {smallUserParameters}");
        await smtp.CommandAsync("DATA");
        await smtp.SendDataAsync(message);
        var final = await smtp.ReadReplyAsync();
        await smtp.CommandAsync("QUIT");

        Assert.True(mail.Code == 250, smtp.Transcript);
        Assert.True(alice.Code == 250, smtp.Transcript);
        Assert.True(small.Code == 250, smtp.Transcript);
        return final;
    }

    private async Task<MaildirMessage> WaitForReportAsync(MailboxMark mark, string token)
    {
        var deadline = DateTime.UtcNow + NotificationWait;
        while (DateTime.UtcNow < deadline)
        {
            if (ReportsAbout(mark, token).FirstOrDefault() is { } report)
            {
                return report;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"No notification about {token} for {Sender} within {NotificationWait.TotalSeconds} s.");
    }

    // Only notifications start with the null sender's Return-Path; the original message mentions the token too.
    private List<MaildirMessage> ReportsAbout(MailboxMark mark, string token) =>
        mark.NewMessages(Dovecot, Sender)
            .Where(m => Encoding.ASCII.GetString(m.Content).Contains(token, StringComparison.Ordinal))
            .ToList();

    private static byte[] MessageLargerThanQuota(string token)
    {
        var text = new StringBuilder();
        text.Append($"From: {Sender}\r\nTo: {Alice}, {DovecotFixture.SmallQuotaUser}\r\n");
        text.Append($"Subject: DSN parameters\r\nMessage-ID: <{token}@dsn.e2e.test>\r\n\r\n");
        for (var i = 0; i < DovecotFixture.SmallQuotaKilobytes * 2 * 1024 / 78; i++)
        {
            text.Append(new string('x', 76)).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}

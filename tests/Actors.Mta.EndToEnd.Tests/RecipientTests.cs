using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>How the server reports each recipient's fate, checked against Dovecot's real per-recipient replies.</summary>
public sealed class RecipientTests : EndToEndTest
{
    private const string Sender = "recipients@example.net";
    private const string VerificationOff = "actors-mta.verification.enabled = off";

    public RecipientTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Fact]
    public async Task UnacceptedDomain_Gets550AtRcpt()
    {
        var server = await ServerAsync();
        await using var smtp = await OpenTransactionAsync(server);
        var rcpt = await smtp.CommandAsync("RCPT TO:<someone@example.net>");

        Assert.True(rcpt.Code == 550, smtp.Transcript);
        Assert.StartsWith("5.7.1", rcpt.Text);
    }

    [Fact]
    public async Task AcceptedDomain_MatchedWithoutCase()
    {
        var server = await ServerAsync();
        await using var smtp = await OpenTransactionAsync(server);
        var rcpt = await smtp.CommandAsync("RCPT TO:<alice@EXAMPLE.Com>");

        Assert.True(rcpt.Code == 250, smtp.Transcript);
    }

    [Fact]
    public async Task TwoRecipients_EachMailboxGetsMessage()
    {
        var message = Message("Two recipients");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await OpenTransactionAsync(server);
        var alice = await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        var bob = await smtp.CommandAsync("RCPT TO:<bob@example.com>");
        var final = await SendDataAsync(smtp, message);

        Assert.True(alice.Code == 250, smtp.Transcript);
        Assert.True(bob.Code == 250, smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "alice@example.com", message, Sender);
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    /// <summary>
    /// With recipient verification on (the root configuration's default) the server verifies each recipient with
    /// Dovecot at RCPT time, so the unknown user gets Dovecot's 550 5.1.1 before the data.
    /// </summary>
    [Fact]
    public async Task UnknownUserWithValidUser_ValidOneDelivered()
    {
        var message = Message("One unknown recipient");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await OpenTransactionAsync(server);
        var unknown = await smtp.CommandAsync("RCPT TO:<nobody@example.com>");
        var bob = await smtp.CommandAsync("RCPT TO:<bob@example.com>");
        var final = await SendDataAsync(smtp, message);
        Output.WriteLine(smtp.Transcript);

        Assert.True(unknown.Code == 550, smtp.Transcript);
        Assert.StartsWith("5.1.1", unknown.Text);
        Assert.True(bob.Code == 250, smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    [Fact]
    public async Task OnlyUnknownUser_Gets550AtRcpt()
    {
        var server = await ServerAsync();
        await using var smtp = await OpenTransactionAsync(server);
        var rcpt = await smtp.CommandAsync("RCPT TO:<nobody@example.org>");
        var data = await smtp.CommandAsync("DATA");

        Assert.True(rcpt.Code == 550, smtp.Transcript);
        Assert.StartsWith("5.1.1", rcpt.Text);
        Assert.True(data.Code is 503 or 554, smtp.Transcript);
    }

    /// <summary>
    /// Without verification the unknown user is accepted at RCPT and fails only at Dovecot after the data. The
    /// other recipient is delivered, so the reply to the final dot is 250 and the failure goes to the sender as
    /// a delivery status notification, not to the client.
    /// </summary>
    [Fact]
    public async Task UnverifiedUnknownUser_ValidOneDelivered()
    {
        var message = Message("One unknown recipient, no verification");
        await using var server = await ServerProcess.StartAsync(Dovecot.LmtpDestination, VerificationOff);
        var mark = Dovecot.Mark();

        await using var smtp = await OpenTransactionAsync(server);
        var unknown = await smtp.CommandAsync("RCPT TO:<nobody@example.com>");
        var bob = await smtp.CommandAsync("RCPT TO:<bob@example.com>");
        var final = await SendDataAsync(smtp, message);
        Output.WriteLine(smtp.Transcript);
        Output.WriteLine(server.Output.ToString());

        Assert.True(unknown.Code == 250, smtp.Transcript);
        Assert.True(bob.Code == 250, smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    [Fact]
    public async Task UnverifiedOnlyUnknownUser_Gets550AfterData()
    {
        await using var server = await ServerProcess.StartAsync(Dovecot.LmtpDestination, VerificationOff);

        await using var smtp = await OpenTransactionAsync(server);
        var rcpt = await smtp.CommandAsync("RCPT TO:<nobody@example.org>");
        var final = await SendDataAsync(smtp, Message("Only an unknown recipient, no verification"));
        Output.WriteLine(smtp.Transcript);
        Output.WriteLine(server.Output.ToString());

        Assert.True(rcpt.Code == 250, smtp.Transcript);
        Assert.True(final.Code == 550, smtp.Transcript);
        Assert.StartsWith("5.", final.Text);
    }

    [Fact]
    public async Task FullMailbox_Gets550AfterData()
    {
        var message = Message("Larger than the quota", bodyKilobytes: DovecotFixture.SmallQuotaKilobytes * 2);
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await OpenTransactionAsync(server);
        await smtp.CommandAsync($"RCPT TO:<{DovecotFixture.SmallQuotaUser}>");
        var final = await SendDataAsync(smtp, message);

        Assert.True(final.Code == 550, smtp.Transcript);
        Assert.Empty(mark.NewMessages(Dovecot, DovecotFixture.SmallQuotaUser));
    }

    [Fact]
    public async Task FullMailboxWithValidUser_Gets250()
    {
        var message = Message("Larger than one quota", bodyKilobytes: DovecotFixture.SmallQuotaKilobytes * 2);
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await OpenTransactionAsync(server);
        await smtp.CommandAsync($"RCPT TO:<{DovecotFixture.SmallQuotaUser}>");
        await smtp.CommandAsync("RCPT TO:<carol@example.org>");
        var final = await SendDataAsync(smtp, message);

        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "carol@example.org", message, Sender);
        Assert.Empty(mark.NewMessages(Dovecot, DovecotFixture.SmallQuotaUser));
    }

    /// <summary>
    /// Dovecot 2.3's LMTP offers no SMTPUTF8 and rejects a UTF-8 local part with 501 5.5.4 at RCPT, so such a
    /// recipient cannot be delivered. The client must get a 5xx for it, never a 250 for a lost message.
    /// </summary>
    [Fact]
    public async Task Utf8LocalPart_RejectedWithPermanentError()
    {
        var message = Encoding.UTF8.GetBytes(
            "From: sender@example.net\r\nTo: josé@example.com\r\nSubject: Für José\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nOlá José!\r\n");
        var server = await ServerAsync();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO raw.e2e.test");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}> SMTPUTF8 BODY=8BITMIME");
        var rcpt = await smtp.CommandAsync("RCPT TO:<josé@example.com>");
        var final = rcpt.Code == 250 ? await SendDataAsync(smtp, message) : rcpt;
        Output.WriteLine(smtp.Transcript);

        Assert.True(mail.Code == 250, smtp.Transcript);
        Assert.True(final.Code is >= 500 and < 600, smtp.Transcript);
    }

    /// <summary>
    /// A UTF-8 sender address needs SMTPUTF8, which Dovecot 2.3's LMTP does not offer (though it accepts such a
    /// MAIL FROM without it). The message must reach the ASCII recipient or be rejected with a 5xx, never get a
    /// 250 and then be lost.
    /// </summary>
    [Fact]
    public async Task Utf8Sender_DeliveredOrRejected()
    {
        const string utf8Sender = "δοκιμή@example.net";
        var message = Encoding.UTF8.GetBytes(
            $"From: {utf8Sender}\r\nTo: alice@example.com\r\nSubject: Γειά σου\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nΚαλημέρα!\r\n");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO raw.e2e.test");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{utf8Sender}> SMTPUTF8 BODY=8BITMIME");
        var rcpt = await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        var final = rcpt.Code == 250 ? await SendDataAsync(smtp, message) : rcpt;
        Output.WriteLine(smtp.Transcript);
        var delivered = mark.NewMessages(Dovecot, "alice@example.com");

        Assert.True(mail.Code == 250, smtp.Transcript);
        Assert.True(final.Code is 250 or (>= 500 and < 600), smtp.Transcript);
        Assert.True(final.Code != 250 || delivered.Count == 1, $"250 but {delivered.Count} messages stored.\n{smtp.Transcript}");
        foreach (var stored in delivered)
        {
            var comparison = StoredMessage.Compare(stored.Content, message);
            Output.WriteLine(string.Concat(comparison.TraceFields.Select(f => f.Raw)));
            Assert.True(comparison.Mismatch is null, comparison.Mismatch);
        }
    }

    private static async Task<SmtpLineClient> OpenTransactionAsync(ServerProcess server)
    {
        var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        var greeting = await smtp.ReadReplyAsync();
        var ehlo = await smtp.CommandAsync("EHLO recipients.e2e.test");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        if (greeting.Code != 220 || ehlo.Code != 250 || mail.Code != 250)
        {
            await smtp.DisposeAsync();
            throw new InvalidOperationException($"Opening a transaction failed.\n{smtp.Transcript}");
        }

        return smtp;
    }

    private static async Task<SmtpReply> SendDataAsync(SmtpLineClient smtp, byte[] message)
    {
        var data = await smtp.CommandAsync("DATA");
        if (data.Code != 354)
        {
            return data;
        }

        await smtp.SendDataAsync(message);
        return await smtp.ReadReplyAsync();
    }

    private static byte[] Message(string subject, int bodyKilobytes = 0)
    {
        var text = new StringBuilder($"From: {Sender}\r\nTo: undisclosed-recipients:;\r\nSubject: {subject}\r\n");
        text.Append($"Message-ID: <{Guid.NewGuid():N}@example.net>\r\n\r\nBody line.\r\n");
        for (var i = 0; i < bodyKilobytes * 1024 / 78; i++)
        {
            text.Append(new string('x', 76)).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}

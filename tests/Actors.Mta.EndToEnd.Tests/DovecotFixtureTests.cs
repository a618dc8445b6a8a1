using System.Net.Sockets;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Checks the private Dovecot by itself over raw LMTP, so a failure in the server tests can be distinguished
/// from a broken fixture.
/// </summary>
public sealed class DovecotFixtureTests : IClassFixture<DovecotFixture>
{
    private readonly DovecotFixture dovecot;

    public DovecotFixtureTests(DovecotFixture dovecot) => this.dovecot = dovecot;

    [Fact]
    public async Task LmtpDelivery_StoresMessageByteForByte()
    {
        var message = Encoding.ASCII.GetBytes(
            "From: Sender <sender@example.net>\r\nTo: alice@example.com\r\nSubject: LMTP fixture check\r\n" +
            "Message-ID: <lmtp-fixture@example.net>\r\n\r\nFirst line\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n");
        var mark = dovecot.Mark();

        await using var lmtp = await SmtpLineClient.ConnectAsync(dovecot.LmtpPort);
        var greeting = await lmtp.ReadReplyAsync();
        var lhlo = await lmtp.CommandAsync("LHLO fixture.test");
        var mail = await lmtp.CommandAsync("MAIL FROM:<sender@example.net>");
        var rcpt = await lmtp.CommandAsync("RCPT TO:<alice@example.com>");
        var data = await lmtp.CommandAsync("DATA");
        await lmtp.SendDataAsync(message);
        var delivered = await lmtp.ReadReplyAsync();

        Assert.True(greeting.Code == 220, lmtp.Transcript);
        Assert.True(lhlo.Code == 250, lmtp.Transcript);
        Assert.True(mail.Code == 250, lmtp.Transcript);
        Assert.True(rcpt.Code == 250, lmtp.Transcript);
        Assert.True(data.Code == 354, lmtp.Transcript);
        Assert.True(delivered.Code == 250, lmtp.Transcript);

        var stored = Assert.Single(mark.NewMessages(dovecot, "alice@example.com"));
        var comparison = StoredMessage.Compare(stored.Content, message);
        Assert.Null(comparison.Mismatch);
        Assert.Equal(new[] { "Return-Path", "Delivered-To" }, comparison.TraceFields.Select(f => f.Name));
        Assert.Equal("Return-Path: <sender@example.net>\r\n", comparison.TraceFields[0].Raw);
    }

    [Fact]
    public async Task UnknownUser_Gets550AtRcpt()
    {
        await using var lmtp = await SmtpLineClient.ConnectAsync(dovecot.LmtpPort);
        await lmtp.ReadReplyAsync();
        await lmtp.CommandAsync("LHLO fixture.test");
        await lmtp.CommandAsync("MAIL FROM:<sender@example.net>");
        var rcpt = await lmtp.CommandAsync("RCPT TO:<nobody@example.com>");

        Assert.True(rcpt.Code == 550, lmtp.Transcript);
        Assert.StartsWith("5.1.1", rcpt.Text);
    }

    [Fact]
    public async Task FullMailbox_Gets552AfterData()
    {
        var message = Encoding.ASCII.GetBytes(
            "Subject: too big for the quota\r\n\r\n" +
            string.Concat(Enumerable.Repeat(new string('x', 76) + "\r\n", DovecotFixture.SmallQuotaKilobytes * 20)));

        await using var lmtp = await SmtpLineClient.ConnectAsync(dovecot.LmtpPort);
        await lmtp.ReadReplyAsync();
        await lmtp.CommandAsync("LHLO fixture.test");
        await lmtp.CommandAsync("MAIL FROM:<sender@example.net>");
        await lmtp.CommandAsync($"RCPT TO:<{DovecotFixture.SmallQuotaUser}>");
        await lmtp.CommandAsync("RCPT TO:<bob@example.com>");
        await lmtp.CommandAsync("DATA");
        await lmtp.SendDataAsync(message);
        var smallReply = await lmtp.ReadReplyAsync();
        var bobReply = await lmtp.ReadReplyAsync();

        Assert.True(smallReply.Code == 552, lmtp.Transcript);
        Assert.StartsWith("5.2.2", smallReply.Text);
        Assert.True(bobReply.Code == 250, lmtp.Transcript);
    }

    [Fact]
    public async Task StopThenStart_RefusesThenGreets()
    {
        var separate = new DovecotFixture();
        try
        {
            await separate.InitializeAsync();
            await separate.StopAsync();

            var refused = await Assert.ThrowsAsync<SocketException>(() => SmtpLineClient.ConnectAsync(separate.LmtpPort));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

            await separate.StartAsync();
            await using var lmtp = await SmtpLineClient.ConnectAsync(separate.LmtpPort);
            var greeting = await lmtp.ReadReplyAsync();
            Assert.Equal(220, greeting.Code);
        }
        finally
        {
            await separate.DisposeAsync();
        }
    }
}

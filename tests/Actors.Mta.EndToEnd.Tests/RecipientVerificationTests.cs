using Actors.Mta.EndToEnd.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Recipient verification at RCPT time (on in the root configuration): the server checks each recipient with
/// Dovecot before it accepts it, and accepts it when Dovecot cannot reply.
/// </summary>
public sealed class RecipientVerificationTests : EndToEndTest
{
    private const string Sender = "verify@example.net";
    private const string UnknownUser = "nobody@example.com";

    public RecipientVerificationTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    /// <summary>MailKit reports the 550 as a rejected recipient, so the server rejected it at RCPT, before the data.</summary>
    [Fact]
    public async Task UnknownUser_RejectedAtRcpt()
    {
        var server = await ServerAsync();
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(Sender));
        message.To.Add(MailboxAddress.Parse(UnknownUser));
        message.Subject = "To an unknown user";
        message.Body = new TextPart("plain") { Text = "Nobody reads this.\r\n" };

        using var client = new SmtpClient { LocalDomain = "verify.e2e.test", Timeout = 60_000 };
        await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None);
        var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message));
        await client.DisconnectAsync(quit: true);

        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, error.ErrorCode);
        Assert.Equal(550, (int)error.StatusCode);
        Assert.Equal(UnknownUser, error.Mailbox?.Address);
        Assert.StartsWith("5.1.1", error.Message);
    }

    /// <summary>
    /// With its own Dovecot stopped, the server cannot verify, and a temporary failure never rejects mail: the
    /// unknown user is accepted at RCPT, whereas a running Dovecot would have it rejected.
    /// </summary>
    [Fact]
    public async Task DovecotStopped_UnknownUserAccepted()
    {
        var dovecot = new DovecotFixture();
        try
        {
            await dovecot.InitializeAsync();
            await using var server = await ServerProcess.StartAsync(dovecot.LmtpDestination);
            var whileRunning = await RcptAsync(server, "nobody-running@example.com");
            await dovecot.StopAsync();
            var whileStopped = await RcptAsync(server, "nobody-stopped@example.com");
            Output.WriteLine(server.Output.ToString());

            Assert.True(whileRunning.Reply.Code == 550, whileRunning.Transcript);
            Assert.True(whileStopped.Reply.Code == 250, whileStopped.Transcript);
        }
        finally
        {
            await dovecot.DisposeAsync();
        }
    }

    private static async Task<(SmtpReply Reply, string Transcript)> RcptAsync(ServerProcess server, string recipient)
    {
        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO verify.e2e.test");
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        var rcpt = await smtp.CommandAsync($"RCPT TO:<{recipient}>");
        await smtp.CommandAsync("QUIT");
        return (rcpt, smtp.Transcript);
    }
}

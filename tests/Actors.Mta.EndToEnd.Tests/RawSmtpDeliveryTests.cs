using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Sends every corpus message over a raw socket, one command at a time with exactly dot-stuffed DATA, so the bytes on the
/// wire do not depend on any client library.
/// </summary>
public sealed class RawSmtpDeliveryTests : EndToEndTest
{
    private const string Sender = "raw-sender@example.net";

    public RawSmtpDeliveryTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public async Task RawSmtp_DeliversCorpusMessageUnchanged(string name)
    {
        var message = MessageCorpus.Get(name);
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        var greeting = await smtp.ReadReplyAsync();
        var ehlo = await smtp.CommandAsync("EHLO raw.e2e.test");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}> BODY=8BITMIME SIZE={message.Content.Length}");
        var rcpt = await smtp.CommandAsync("RCPT TO:<carol@example.org>");
        var data = await smtp.CommandAsync("DATA");
        await smtp.SendDataAsync(message.Content);
        var final = await smtp.ReadReplyAsync();
        await smtp.CommandAsync("QUIT");

        Assert.True(greeting.Code == 220, smtp.Transcript);
        Assert.True(ehlo.Code == 250, smtp.Transcript);
        Assert.True(mail.Code == 250, smtp.Transcript);
        Assert.True(rcpt.Code == 250, smtp.Transcript);
        Assert.True(data.Code == 354, smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "carol@example.org", message.Content, Sender);
    }

    [Fact]
    public async Task Ehlo_AdvertisesRequiredExtensions()
    {
        var server = await ServerAsync();
        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        var ehlo = await smtp.CommandAsync("EHLO raw.e2e.test");
        var keywords = ehlo.Lines.Skip(1).Select(line => line.Split(' ')[0].ToUpperInvariant()).ToList();

        Assert.Contains("PIPELINING", keywords);
        Assert.Contains("8BITMIME", keywords);
        Assert.Contains("SIZE", keywords);
        Assert.Contains("ENHANCEDSTATUSCODES", keywords);
        Assert.Contains("SMTPUTF8", keywords);
    }

    [Fact]
    public async Task Pipelining_WholeTransactionInOneWrite()
    {
        // RFC 2920: a client may send MAIL, RCPT and DATA together and read the replies afterwards.
        var message = Encoding.ASCII.GetBytes("Subject: pipelined\r\n\r\nSent in one write.\r\n");
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO raw.e2e.test");
        await smtp.SendLineAsync($"MAIL FROM:<{Sender}>");
        await smtp.SendLineAsync("RCPT TO:<alice@example.com>");
        await smtp.SendLineAsync("RCPT TO:<bob@example.com>");
        await smtp.SendLineAsync("DATA");
        var replies = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            replies.Add((await smtp.ReadReplyAsync()).Code);
        }

        await smtp.SendDataAsync(message);
        var final = await smtp.ReadReplyAsync();

        Assert.True(replies.SequenceEqual(new[] { 250, 250, 250, 354 }), smtp.Transcript);
        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "alice@example.com", message, Sender);
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    [Theory]
    [InlineData("bare LF", "Subject: bare LF\r\n\r\nfirst\nsecond\r\n")]
    [InlineData("bare CR", "Subject: bare CR\r\n\r\nfirst\rsecond\r\n")]
    public async Task BareLineEnding_Gets550AfterData(string label, string content)
    {
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO raw.e2e.test");
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        await smtp.CommandAsync("DATA");
        await smtp.SendDataAsync(Encoding.ASCII.GetBytes(content));
        var final = await smtp.ReadReplyAsync();

        Assert.True(final.Code == 550, $"{label}\n{smtp.Transcript}");
        Assert.Empty(mark.NewMessages(Dovecot, "alice@example.com"));
    }
}

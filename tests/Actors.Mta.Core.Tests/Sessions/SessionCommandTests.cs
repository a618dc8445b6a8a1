using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>SMTP command transcripts: replies to each command, sequence errors, syntax errors and limits.</summary>
public sealed class SessionCommandTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private async Task<TranscriptClient> ConnectAsync(string overrides = "")
    {
        var transport = StartSession(SessionSettings(overrides), CreateDeliveryProbe());
        var greeting = await transport.Client.ReadReplyAsync();
        Assert.StartsWith("220 ", greeting[^1]);
        return transport.Client;
    }

    private async Task<TranscriptClient> ConnectWithEhloAsync(string overrides = "")
    {
        var client = await ConnectAsync(overrides);
        await client.SendAsync("EHLO client.example\r\n");
        await client.ReadReplyAsync();
        return client;
    }

    [Fact]
    public async Task Greeting_Is220WithServerName()
    {
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe());

        string? greeting = await transport.Client.ReadLineAsync();

        Assert.Equal("220 mx.test ESMTP Actors.Mta", greeting);
    }

    [Fact]
    public async Task Ehlo_ListsExtensions()
    {
        var client = await ConnectAsync();

        await client.SendAsync("EHLO client.example\r\n");
        var reply = await client.ReadReplyAsync();

        Assert.Equal("250-mx.test Hello client.example", reply[0]);
        Assert.Contains("250-PIPELINING", reply);
        Assert.Contains("250-SIZE 36700160", reply);
        Assert.Contains("250-8BITMIME", reply);
        Assert.Contains("250-ENHANCEDSTATUSCODES", reply);
        Assert.Contains("250-SMTPUTF8", reply);
        Assert.StartsWith("250 ", reply[^1]);
    }

    [Fact]
    public async Task Ehlo_AdvertisesConfiguredSize()
    {
        var client = await ConnectAsync("limits.max-message-size = 2048");

        await client.SendAsync("EHLO client.example\r\n");
        var reply = await client.ReadReplyAsync();

        Assert.Contains("250-SIZE 2048", reply);
    }

    [Fact]
    public async Task Helo_RepliesOneLine()
    {
        var client = await ConnectAsync();

        await client.SendAsync("HELO client.example\r\n");
        var reply = await client.ReadReplyAsync();

        Assert.Equal(["250 mx.test"], reply);
    }

    [Theory]
    [InlineData("EHLO\r\n", "501 5.5.4")]
    [InlineData("HELO\r\n", "501 5.5.4")]
    [InlineData("EHLO two words\r\n", "501 5.5.4")]
    public async Task Helo_WithoutNameIs501(string command, string expected)
    {
        var client = await ConnectAsync();

        string reply = await client.CommandAsync(command);

        Assert.StartsWith(expected, reply);
    }

    [Theory]
    [InlineData("NOOP\r\n", "250 2.0.0")]
    [InlineData("RSET\r\n", "250 2.0.0")]
    [InlineData("RSET now\r\n", "501 5.5.4")]
    [InlineData("VRFY postmaster\r\n", "252 2.5.0")]
    [InlineData("VRFY\r\n", "501 5.5.4")]
    [InlineData("HELP\r\n", "214 2.0.0")]
    [InlineData("EXPN staff\r\n", "502 5.5.1")]
    [InlineData("STARTTLS\r\n", "502 5.5.1")]
    [InlineData("AUTH PLAIN\r\n", "502 5.5.1")]
    [InlineData("BDAT 0 LAST\r\n", "503 5.5.1")]
    [InlineData("FOO bar\r\n", "500 5.5.2")]
    [InlineData("noop\r\n", "250 2.0.0")]
    public async Task Command_GetsExpectedReply(string command, string expected)
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync(command);

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task Quit_Replies221AndCloses()
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync("QUIT\r\n");

        Assert.StartsWith("221 2.0.0", reply);
        Assert.True(await client.IsAtEndAsync());
    }

    [Fact]
    public async Task Mail_BeforeEhloIs503()
    {
        var client = await ConnectAsync();

        string reply = await client.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        Assert.StartsWith("503 5.5.1", reply);
    }

    [Fact]
    public async Task Rcpt_BeforeMailIs503()
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync("RCPT TO:<alice@example.com>\r\n");

        Assert.StartsWith("503 5.5.1", reply);
    }

    [Fact]
    public async Task Data_BeforeMailIs503()
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync("DATA\r\n");

        Assert.StartsWith("503 5.5.1", reply);
    }

    [Fact]
    public async Task Data_WithoutRecipientsIs554()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nDATA\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("250 2.1.0", replies[0]);
        Assert.StartsWith("554 5.5.1", replies[1]);
    }

    [Fact]
    public async Task Data_WithArgumentIs501()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA now\r\n");
        var replies = await client.ReadRepliesAsync(3);

        Assert.StartsWith("501 5.5.4", replies[2]);
    }

    [Fact]
    public async Task Mail_NestedIs503()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nMAIL FROM:<other@example.net>\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("250 2.1.0", replies[0]);
        Assert.StartsWith("503 5.5.1", replies[1]);
    }

    [Fact]
    public async Task Rset_EndsTransaction()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nRSET\r\nRCPT TO:<alice@example.com>\r\n");
        var replies = await client.ReadRepliesAsync(3);

        Assert.StartsWith("250 2.0.0", replies[1]);
        Assert.StartsWith("503 5.5.1", replies[2]);
    }

    [Fact]
    public async Task Ehlo_EndsTransaction()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nEHLO client.example\r\nRCPT TO:<alice@example.com>\r\n");
        await client.ReadReplyAsync();
        await client.ReadReplyAsync();
        string rcpt = (await client.ReadReplyAsync())[^1];

        Assert.StartsWith("503 5.5.1", rcpt);
    }

    [Theory]
    [InlineData("mail from:<sender@example.net> body=8bitmime\r\n")]
    [InlineData("Mail From:<sender@example.net> Body=7bit\r\n")]
    [InlineData("MAIL FROM:<sender@example.net> SIZE=1000\r\n")]
    [InlineData("MAIL FROM:<> BODY=8BITMIME\r\n")]
    [InlineData("MAIL FROM:<sender@example.net> SMTPUTF8\r\n")]
    public async Task Mail_AcceptsParametersInAnyCase(string command)
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync(command);

        Assert.StartsWith("250 2.1.0", reply);
    }

    [Fact]
    public async Task Rcpt_AcceptsLowerCase()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("mail from:<sender@example.net>\r\nrcpt to:<alice@EXAMPLE.com>\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("250 2.1.5", replies[1]);
    }

    [Theory]
    [InlineData("MAIL FROM:<sender@example.net> FOO=BAR\r\n", "555 5.5.4")]
    [InlineData("MAIL FROM:<sender@example.net> RET=NONE\r\n", "501 5.5.4")]
    [InlineData("MAIL FROM:<sender@example.net> BODY=BINARY\r\n", "501 5.5.4")]
    [InlineData("MAIL FROM:<sender@example.net> SIZE=abc\r\n", "501 5.5.4")]
    [InlineData("MAIL FROM:<sender@example.net> SIZE=36700161\r\n", "552 5.3.4")]
    [InlineData("MAIL FROM:sender@example.net\r\n", "501")]
    [InlineData("MAIL TO:<sender@example.net>\r\n", "501")]
    [InlineData("MAIL FROM:<sender@@example.net>\r\n", "501")]
    public async Task Mail_WithBadArgumentIsRejected(string command, string expected)
    {
        var client = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync(command);

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task Mail_EsmtpParameterAfterHeloIs555()
    {
        var client = await ConnectAsync();
        await client.CommandAsync("HELO client.example\r\n");

        string reply = await client.CommandAsync("MAIL FROM:<sender@example.net> SIZE=100\r\n");

        Assert.StartsWith("555 5.5.4", reply);
    }

    [Theory]
    [InlineData("RCPT TO:<victim@elsewhere.example>\r\n", "550 5.7.1")]
    [InlineData("RCPT TO:<root@[127.0.0.1]>\r\n", "550 5.7.1")]
    [InlineData("RCPT TO:<root@[IPv6:::1]>\r\n", "550 5.7.1")]
    [InlineData("RCPT TO:<alice@sub.example.com>\r\n", "550 5.7.1")]
    [InlineData("RCPT TO:<Postmaster>\r\n", "250 2.1.5")]
    [InlineData("RCPT TO:<postmaster>\r\n", "250 2.1.5")]
    [InlineData("RCPT TO:alice@example.com\r\n", "501")]
    [InlineData("RCPT TO:<alice@example.com> NOTIFY=NEVER,FAILURE\r\n", "501 5.5.4")]
    public async Task Rcpt_GetsExpectedReply(string command, string expected)
    {
        var client = await ConnectWithEhloAsync();
        await client.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        string reply = await client.CommandAsync(command);

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task Rcpt_RejectedByVerificationIs550()
    {
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe(reject: address =>
            address == "nobody@example.com" ? new SmtpReply(550, "5.1.1", "User unknown") : null));
        var client = transport.Client;
        await client.ReadReplyAsync();

        await client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\n" +
            "RCPT TO:<nobody@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
        await client.ReadReplyAsync();
        var replies = await client.ReadRepliesAsync(4);

        Assert.StartsWith("250 2.1.0", replies[0]);
        Assert.StartsWith("550 5.1.1", replies[1]);
        Assert.StartsWith("250 2.1.5", replies[2]);
        Assert.StartsWith("354 ", replies[3]);
    }

    [Fact]
    public async Task Rcpt_RepeatedRecipientIsAcceptedOnce()
    {
        var delivery = CreateDeliveryProbe();
        var transport = StartSession(SessionSettings(), delivery);
        var client = transport.Client;
        await client.ReadReplyAsync();

        await client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\n" +
            "RCPT TO:<alice@example.com>\r\nRCPT TO:<Alice@Example.com>\r\nDATA\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Single(message.Envelope.Recipients);
    }

    [Fact]
    public async Task Rcpt_OverMaxRecipientsIs452()
    {
        var client = await ConnectWithEhloAsync("limits.max-recipients = 100");
        var commands = new StringBuilder("MAIL FROM:<sender@example.net>\r\n");
        for (int i = 1; i <= 101; i++)
        {
            commands.Append($"RCPT TO:<user{i}@example.com>\r\n");
        }

        await client.SendAsync(commands.ToString());
        var replies = await client.ReadRepliesAsync(102);

        Assert.All(replies.Skip(1).Take(100), reply => Assert.StartsWith("250 2.1.5", reply));
        Assert.StartsWith("452 4.5.3", replies[101]);
    }

    [Fact]
    public async Task CommandLine_AtMaxLengthIsAccepted()
    {
        var client = await ConnectWithEhloAsync("limits.max-command-line-length = 512");
        string line = "NOOP " + new string('x', 512 - "NOOP \r\n".Length) + "\r\n";

        string reply = await client.CommandAsync(line);

        Assert.StartsWith("250 2.0.0", reply);
    }

    [Theory]
    [InlineData(513)]
    [InlineData(5000)]
    public async Task CommandLine_TooLongIs500(int length)
    {
        var client = await ConnectWithEhloAsync("limits.max-command-line-length = 512");
        string line = "NOOP " + new string('x', length - "NOOP \r\n".Length) + "\r\n";

        await client.SendAsync(line + "NOOP\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("500 5.5.2", replies[0]);
        Assert.StartsWith("250 2.0.0", replies[1]);
    }

    [Fact]
    public async Task CommandLine_TooLongInPiecesIs500()
    {
        var transport = StartSession(SessionSettings("limits.max-command-line-length = 512"), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();
        var pieces = Enumerable.Repeat(Encoding.ASCII.GetBytes(new string('x', 300)), 10)
            .Prepend(Encoding.ASCII.GetBytes("NOOP "))
            .Append(Encoding.ASCII.GetBytes("\r\nNOOP\r\n"));

        await transport.SendInPiecesAsync(pieces);
        var replies = await transport.Client.ReadRepliesAsync(2);

        Assert.StartsWith("500 5.5.2", replies[0]);
        Assert.StartsWith("250 2.0.0", replies[1]);
    }

    [Theory]
    [InlineData("NOOP\n")]
    [InlineData("NO\rOP\r\n")]
    [InlineData("NO\0OP\r\n")]
    [InlineData("MAIL FROM:<\0@example.net>\r\n")]
    public async Task CommandLine_WithControlCharacterIs500(string line)
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync(line + "NOOP\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("500 5.5.2", replies[0]);
        Assert.StartsWith("250 2.0.0", replies[1]);
    }

    [Fact]
    public async Task CommandLine_InvalidUtf8Is500()
    {
        var client = await ConnectWithEhloAsync();
        byte[] line = [.. "MAIL FROM:<"u8, 0xC3, 0x28, .. "@example.net> SMTPUTF8\r\nNOOP\r\n"u8];

        await client.SendAsync(line);
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("500 5.5.2", replies[0]);
        Assert.StartsWith("250 2.0.0", replies[1]);
    }

    [Fact]
    public async Task Mail_Utf8SenderNeedsSmtpUtf8()
    {
        var client = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<josé@example.net>\r\nMAIL FROM:<josé@example.net> SMTPUTF8\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("501", replies[0]);
        Assert.StartsWith("250 2.1.0", replies[1]);
    }

    [Fact]
    public async Task ClientClose_StopsSession()
    {
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        await transport.SendAsync("NOOP\r\n"u8.ToArray());
        await transport.Client.ReadReplyAsync();
        transport.CompleteClientOutput();

        Assert.True(await transport.Client.IsAtEndAsync());
    }
}

using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>DSN (RFC 3461) parameters on MAIL and RCPT: the EHLO keyword, their validation, and the envelope that keeps them.</summary>
public sealed class SessionDsnTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private async Task<(TranscriptClient Client, TestProbe Delivery)> ConnectWithEhloAsync()
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        var transport = StartSession(SessionSettings(), delivery);
        await transport.Client.ReadReplyAsync();
        await transport.Client.SendAsync("EHLO client.example\r\n");
        var ehlo = await transport.Client.ReadReplyAsync();
        Assert.Contains("250-DSN", ehlo);
        return (transport.Client, delivery);
    }

    [Fact]
    public async Task Envelope_KeepsMailAndRcptParameters()
    {
        var (client, delivery) = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net> RET=FULL ENVID=QQ+2B314\r\n" +
            "RCPT TO:<alice@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+2Bx@example.com\r\n" +
            "RCPT TO:<bob@example.com> NOTIFY=NEVER\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n");
        var replies = await client.ReadRepliesAsync(5);
        await client.SendAsync("Subject: dsn\r\n\r\nbody\r\n.\r\n");
        var envelope = delivery.ExpectMsg<DeliverMessage>(Wait).Envelope;

        Assert.Equal(["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"], replies.Take(4));
        Assert.Equal([new("RET", "FULL"), new("ENVID", "QQ+2B314")], envelope.MailParameters);
        Assert.Equal([new("NOTIFY", "SUCCESS,FAILURE"), new("ORCPT", "rfc822;alice+2Bx@example.com")],
            envelope.ParametersOf(new Mailbox("alice", "example.com")));
        Assert.Equal([new("NOTIFY", "NEVER")], envelope.ParametersOf(new Mailbox("bob", "example.com")));
        Assert.Empty(envelope.ParametersOf(new Mailbox("carol", "example.org")));
    }

    [Fact]
    public async Task Rcpt_DuplicateKeepsFirstParameters()
    {
        var (client, delivery) = await ConnectWithEhloAsync();

        await client.SendAsync("MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com> NOTIFY=NEVER\r\n" +
            "RCPT TO:<Alice@example.com> NOTIFY=FAILURE\r\nDATA\r\n");
        await client.ReadRepliesAsync(4);
        await client.SendAsync("Subject: dsn\r\n\r\nbody\r\n.\r\n");
        var envelope = delivery.ExpectMsg<DeliverMessage>(Wait).Envelope;

        Assert.Equal([new("NOTIFY", "NEVER")], envelope.ParametersOf(new Mailbox("alice", "example.com")));
    }

    [Theory]
    [InlineData("RET=FULL", "250 2.1.0")]
    [InlineData("RET=hdrs", "250 2.1.0")]
    [InlineData("RET", "501 5.5.4 Invalid RET value")]
    [InlineData("RET=ALL", "501 5.5.4 Invalid RET value")]
    [InlineData("ENVID=abc", "250 2.1.0")]
    [InlineData("ENVID=a+0D+0Ab", "501 5.5.4 Invalid ENVID value")]
    [InlineData("ENVID=a+zz", "501 5.5.4 Invalid ENVID value")]
    [InlineData("ENVID", "501 5.5.4 Invalid ENVID value")]
    [InlineData("RET=FULL RET=HDRS", "501 5.5.4 Parameter RET given twice")]
    [InlineData("NOTIFY=NEVER", "555 5.5.4")]
    public async Task Mail_DsnParameterReplies(string parameters, string expected)
    {
        var (client, _) = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync($"MAIL FROM:<sender@example.net> {parameters}\r\n");

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task Mail_LongEnvelopeIdIs501()
    {
        var (client, _) = await ConnectWithEhloAsync();

        string reply = await client.CommandAsync($"MAIL FROM:<sender@example.net> ENVID={new string('x', 101)}\r\n");

        Assert.StartsWith("501 5.5.4 Invalid ENVID value", reply);
    }

    [Theory]
    [InlineData("NOTIFY=NEVER", "250 2.1.5")]
    [InlineData("NOTIFY=DELAY,SUCCESS", "250 2.1.5")]
    [InlineData("NOTIFY=NEVER,DELAY", "501 5.5.4 Invalid NOTIFY value")]
    [InlineData("NOTIFY=FAILURE,FAILURE", "501 5.5.4 Invalid NOTIFY value")]
    [InlineData("NOTIFY=", "501 5.5.4")]
    [InlineData("NOTIFY", "501 5.5.4 Invalid NOTIFY value")]
    [InlineData("ORCPT=rfc822;alice@example.com", "250 2.1.5")]
    [InlineData("ORCPT=alice@example.com", "501 5.5.4 Invalid ORCPT value")]
    [InlineData("ORCPT=rfc822;a+0Db@example.com", "501 5.5.4 Invalid ORCPT value")]
    [InlineData("RET=FULL", "555 5.5.4")]
    [InlineData("FOO=BAR", "555 5.5.4")]
    public async Task Rcpt_DsnParameterReplies(string parameters, string expected)
    {
        var (client, _) = await ConnectWithEhloAsync();
        await client.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        string reply = await client.CommandAsync($"RCPT TO:<alice@example.com> {parameters}\r\n");

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task Rcpt_DsnParameterAfterHeloIs555()
    {
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();
        await transport.Client.CommandAsync("HELO client.example\r\n");
        await transport.Client.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        string reply = await transport.Client.CommandAsync("RCPT TO:<alice@example.com> NOTIFY=NEVER\r\n");

        Assert.Equal("555 5.5.4 Unsupported parameter NOTIFY", reply);
    }
}

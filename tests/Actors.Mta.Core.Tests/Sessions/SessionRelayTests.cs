using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// Tricks that try to make the server relay to a domain it does not accept: source routes, the percent hack,
/// quoted local parts, trailing dots, extra at signs, and case or Unicode look-alikes of accepted domains. The
/// server never relays: every recipient either belongs to an accepted domain and goes to its local route, as
/// written, or is rejected.
/// </summary>
public sealed class SessionRelayTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const string UnicodeDomains = """accepted-domains = ["example.com", "mail.example", "bücher.example"]""";

    private async Task<string> RcptAsync(string path, string overrides = "", bool smtpUtf8 = false)
    {
        var transport = StartSession(SessionSettings(overrides), CreateDeliveryProbe());
        var client = transport.Client;
        await client.ReadReplyAsync();
        await client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>" + (smtpUtf8 ? " SMTPUTF8" : "") + "\r\n");
        await client.ReadRepliesAsync(2);

        return await client.CommandAsync($"RCPT TO:{path}\r\n");
    }

    /// <summary>Sends a message to <paramref name="path"/> and returns the recipient handed to delivery.</summary>
    private async Task<string> DeliveredRecipientAsync(string path)
    {
        var delivery = CreateDeliveryProbe();
        var transport = StartSession(SessionSettings(), delivery);
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync($"EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:{path}\r\nDATA\r\nHi\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        return Assert.Single(message.Envelope.Recipients).Address;
    }

    [Theory]
    [InlineData("<@a.example,@b.example:user@elsewhere.example>", "550 5.7.1")]
    [InlineData("<@example.com:victim@elsewhere.example>", "550 5.7.1")]
    [InlineData("<@a.example,@b.example:alice@example.com>", "250 2.1.5")]
    [InlineData("<user%elsewhere.example@example.com>", "250 2.1.5")]
    [InlineData("<\"user@elsewhere.example\"@example.com>", "250 2.1.5")]
    [InlineData("<alice@example.com.>", "501 5.1.3")]
    [InlineData("<alice@example.com@elsewhere.example>", "501 5.1.3")]
    [InlineData("<alice@elsewhere.example@example.com>", "501 5.1.3")]
    [InlineData("<user@[127.0.0.1]>", "550 5.7.1")]
    [InlineData("<user@[IPv6:2001:db8::1]>", "550 5.7.1")]
    [InlineData("<alice@EXAMPLE.COM>", "250 2.1.5")]
    [InlineData("<alice@example.com.elsewhere.example>", "550 5.7.1")]
    [InlineData("<alice@xample.com>", "550 5.7.1")]
    [InlineData("<alice@exämple.com>", "501 5.1.3")]
    public async Task RelayTrick_GetsExpectedReply(string path, string expected)
    {
        string reply = await RcptAsync(path);

        Assert.StartsWith(expected, reply);
    }

    [Theory]
    [InlineData("<alice@maıl.example>", "550 5.7.1")]
    [InlineData("<alice@ｅxample.com>", "550 5.7.1")]
    [InlineData("<alice@exämple.com>", "550 5.7.1")]
    [InlineData("<alice@bücher.example>", "250 2.1.5")]
    [InlineData("<alice@BÜCHER.example>", "550 5.7.1")]
    [InlineData("<alice@xn--bcher-kva.example>", "550 5.7.1")]
    public async Task UnicodeLookAlike_GetsExpectedReply(string path, string expected)
    {
        string reply = await RcptAsync(path, UnicodeDomains, smtpUtf8: true);

        Assert.StartsWith(expected, reply);
    }

    [Fact]
    public async Task SourceRoute_IsDroppedBeforeDelivery()
    {
        string recipient = await DeliveredRecipientAsync("<@a.example,@b.example:alice@example.com>");

        Assert.Equal("alice@example.com", recipient);
    }

    [Fact]
    public async Task PercentHack_GoesToLocalRouteAsWritten()
    {
        string recipient = await DeliveredRecipientAsync("<user%elsewhere.example@example.com>");

        Assert.Equal("user%elsewhere.example@example.com", recipient);
    }

    [Fact]
    public async Task QuotedLocalPart_GoesToLocalRouteAsWritten()
    {
        string recipient = await DeliveredRecipientAsync("<\"user@elsewhere.example\"@example.com>");

        Assert.Equal("\"user@elsewhere.example\"@example.com", recipient);
    }

    [Fact]
    public async Task PercentHack_UnknownToMdaIs550()
    {
        // The mailbox server, not this one, decides what a local part means; Dovecot has no such user.
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe(reject: address =>
            address.Contains('%') ? new SmtpReply(550, "5.1.1", "User doesn't exist") : null));
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<user%elsewhere.example@example.com>\r\n");
        var replies = await transport.Client.ReadRepliesAsync(3);

        Assert.StartsWith("550 5.1.1", replies[2]);
    }
}

using Actors.Mta.EndToEnd.Tests.Infrastructure;
using MailKit.Security;
using MimeKit;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>Sends every corpus message with MailKit's SmtpClient through the server to Dovecot.</summary>
public sealed class MailKitDeliveryTests : EndToEndTest
{
    private const string Sender = "sender@example.net";

    public MailKitDeliveryTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public async Task MailKit_DeliversCorpusMessageUnchanged(string name)
    {
        var message = MessageCorpus.Get(name);
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        using var client = new VerbatimSmtpClient { LocalDomain = "mailkit.e2e.test", Timeout = 120_000 };
        await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None);
        var mime = MimeMessage.Load(new MemoryStream(message.Content));
        await client.SendAsync(mime, MailboxAddress.Parse(Sender), new[] { MailboxAddress.Parse("alice@example.com") });
        await client.DisconnectAsync(quit: true);

        // With BINARYMIME offered MailKit applies no encoding constraint, and with CHUNKING it sends BDAT.
        Assert.Equal(EncodingConstraint.None, client.LastConstraint);
        AssertDeliveredExactly(mark, "alice@example.com", message.Content, Sender);
    }
}

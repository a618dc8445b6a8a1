using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>The lmtp:/PATH destination form, delivering to the shared Dovecot's LMTP unix socket.</summary>
public sealed class LmtpUnixSocketTests : EndToEndTest
{
    private const string Sender = "socket@example.net";

    public LmtpUnixSocketTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Fact]
    public async Task UnixSocketRoute_DeliversMessageUnchanged()
    {
        var message = MessageCorpus.Get("multipart-alternative.eml").Content;
        await using var server = await ServerProcess.StartAsync("lmtp:" + Dovecot.LmtpSocketPath);
        var mark = Dovecot.Mark();
        try
        {
            await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
            await smtp.ReadReplyAsync();
            await smtp.CommandAsync("EHLO socket.e2e.test");
            await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
            await smtp.CommandAsync("RCPT TO:<carol@example.org>");
            await smtp.CommandAsync("DATA");
            await smtp.SendDataAsync(message);
            var final = await smtp.ReadReplyAsync();

            Assert.True(final.Code == 250, smtp.Transcript);
            AssertDeliveredExactly(mark, "carol@example.org", message, Sender);
        }
        finally
        {
            Output.WriteLine("--- output of the server routed to the unix socket");
            Output.WriteLine(server.Output.ToString());
        }
    }
}

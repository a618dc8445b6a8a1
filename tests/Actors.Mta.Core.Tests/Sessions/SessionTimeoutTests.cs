using Actors.Mta.Core.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>The waits of RFC 5321 section 4.5.3.2: an idle client is told 421 and disconnected.</summary>
public sealed class SessionTimeoutTests(ITestOutputHelper output) : MtaTestKit(output)
{
    [Fact]
    public async Task CommandTimeout_Sends421AndCloses()
    {
        var transport = StartSession(SessionSettings("timeouts.command = 1s"), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["421 4.4.2 mx.test Timeout, closing connection"], lines);
    }

    [Fact]
    public async Task CommandTimeout_RestartsAfterEachCommand()
    {
        var transport = StartSession(SessionSettings("timeouts.command = 1s"), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        string reply = await transport.Client.CommandAsync("NOOP\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.StartsWith("250 ", reply);
        Assert.Equal(["421 4.4.2 mx.test Timeout, closing connection"], lines);
    }

    [Fact]
    public async Task DataBlockTimeout_Sends421AndCloses()
    {
        var delivery = CreateDeliveryProbe();
        var transport = StartSession(SessionSettings("timeouts.data-block = 1s"), delivery);
        await transport.Client.ReadReplyAsync();
        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
        await transport.Client.ReadRepliesAsync(4);

        await transport.Client.SendAsync("Subject: unfinished\r\n\r\nno end");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["421 4.4.2 mx.test Timeout, closing connection"], lines);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}

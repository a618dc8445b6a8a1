using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>Delivery while Dovecot is stopped, with a Dovecot and a server of its own so the shared ones keep running.</summary>
public sealed class LmtpUnavailableTests : IAsyncLifetime
{
    private const string Sender = "retry@example.net";

    private readonly ITestOutputHelper output;
    private readonly DovecotFixture dovecot = new();
    private ServerProcess? server;

    public LmtpUnavailableTests(ITestOutputHelper output) => this.output = output;

    public async Task InitializeAsync()
    {
        await dovecot.InitializeAsync();
        server = await ServerProcess.StartAsync(dovecot.LmtpDestination);
    }

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            output.WriteLine("--- server output");
            output.WriteLine(server.Output.ToString());
            await server.DisposeAsync();
        }

        await dovecot.DisposeAsync();
    }

    [Fact]
    public async Task DovecotStopped_Gets451ThenDeliversAfterRestart()
    {
        var message = Encoding.ASCII.GetBytes(
            "From: retry@example.net\r\nTo: alice@example.com\r\nSubject: Retry later\r\n\r\nTry again.\r\n");

        await dovecot.StopAsync();
        var whileStopped = await SendAsync(message);
        await dovecot.StartAsync();
        var mark = dovecot.Mark();
        var afterRestart = await SendAsync(message);

        Assert.True(whileStopped.Final.Code == 451, whileStopped.Transcript);
        Assert.StartsWith("4.", whileStopped.Final.Text);
        Assert.True(afterRestart.Final.Code == 250, afterRestart.Transcript);
        var stored = Assert.Single(mark.NewMessages(dovecot, "alice@example.com"));
        Assert.Null(StoredMessage.Compare(stored.Content, message).Mismatch);
    }

    private async Task<(SmtpReply Final, string Transcript)> SendAsync(byte[] message)
    {
        await using var smtp = await SmtpLineClient.ConnectAsync(server!.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO unavailable.e2e.test");
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        var data = await smtp.CommandAsync("DATA");
        if (data.Code != 354)
        {
            return (data, smtp.Transcript);
        }

        await smtp.SendDataAsync(message);
        var final = await smtp.ReadReplyAsync();
        await smtp.CommandAsync("QUIT");
        output.WriteLine(smtp.Transcript);
        return (final, smtp.Transcript);
    }
}

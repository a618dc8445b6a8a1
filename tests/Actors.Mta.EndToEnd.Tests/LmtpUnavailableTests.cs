using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Delivery while Dovecot is stopped, with a Dovecot and a server of its own so the shared ones keep running.
/// The server queues a deferred message and replies 250, then retries. The test lowers first-retry from the root
/// configuration's 1m so the retry happens within the test.
/// </summary>
public sealed class LmtpUnavailableTests : IAsyncLifetime
{
    private const string Sender = "retry@example.net";
    private static readonly TimeSpan DeliveryWait = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper output;
    private readonly DovecotFixture dovecot = new();
    private ServerProcess? server;

    public LmtpUnavailableTests(ITestOutputHelper output) => this.output = output;

    public async Task InitializeAsync()
    {
        await dovecot.InitializeAsync();
        server = await ServerProcess.StartAsync(
            dovecot.LmtpDestination,
            "actors-mta.queue.first-retry = 2s",
            "actors-mta.queue.max-retry-delay = 4s");
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
    public async Task DovecotStopped_QueuedThenDeliveredAfterRestart()
    {
        var message = Encoding.ASCII.GetBytes(
            "From: retry@example.net\r\nTo: alice@example.com\r\nSubject: Retry later\r\n\r\nTry again.\r\n");
        var mark = dovecot.Mark();

        await dovecot.StopAsync();
        var whileStopped = await SendAsync(message);
        var deliveredWhileStopped = mark.NewMessages(dovecot, "alice@example.com").Count;
        await dovecot.StartAsync();
        var delivered = await WaitForMessagesAsync(mark, "alice@example.com");

        Assert.True(whileStopped.Final.Code == 250, whileStopped.Transcript);
        Assert.Equal(0, deliveredWhileStopped);
        var stored = Assert.Single(delivered);
        var comparison = StoredMessage.Compare(stored.Content, message);
        Assert.True(comparison.Mismatch is null, comparison.Mismatch);
        Assert.Single(comparison.FieldsNamed("Received"));
    }

    private async Task<IReadOnlyList<MaildirMessage>> WaitForMessagesAsync(MailboxMark mark, string user)
    {
        var deadline = DateTime.UtcNow + DeliveryWait;
        while (true)
        {
            var messages = mark.NewMessages(dovecot, user);
            if (messages.Count > 0 || DateTime.UtcNow > deadline)
            {
                return messages;
            }

            await Task.Delay(250);
        }
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

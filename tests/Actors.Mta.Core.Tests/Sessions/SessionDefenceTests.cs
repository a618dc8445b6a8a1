using System.Diagnostics;
using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// Adversarial clients against one session: too many errors, commands or transactions, over-long data lines,
/// slow senders (slowloris), early talkers, and PROXY headers from a peer that is not trusted.
/// </summary>
public sealed class SessionDefenceTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const string OpenTransaction = "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n";

    private async Task<PipeTransport> ConnectAsync(string overrides, Akka.Actor.IActorRef? delivery = null)
    {
        var transport = StartSession(SessionSettings(overrides), delivery ?? CreateDeliveryProbe());
        string? greeting = await transport.Client.ReadLineAsync();
        Assert.StartsWith("220 ", greeting);
        return transport;
    }

    [Fact]
    public async Task Errors_AtLimitGet421AndClose()
    {
        var transport = await ConnectAsync("limits.max-errors-per-session = 3");

        await transport.Client.SendAsync("FOO\r\nNOOP\r\nBAR\r\nMAIL FROM:<a@example.net>\r\nNOOP\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(5, lines.Count);
        Assert.StartsWith("500 5.5.2", lines[0]);
        Assert.StartsWith("250 2.0.0", lines[1]);
        Assert.StartsWith("500 5.5.2", lines[2]);
        Assert.StartsWith("503 5.5.1", lines[3]);
        Assert.Equal("421 4.7.0 mx.test Too many errors, closing connection", lines[4]);
    }

    [Fact]
    public async Task Errors_RejectedRecipientsCount()
    {
        // A relay probe or a dictionary attack: every RCPT is rejected.
        var delivery = CreateDeliveryProbe(reject: address =>
            address.StartsWith("guess", StringComparison.Ordinal) ? new SmtpReply(550, "5.1.1", "User unknown") : null);
        var transport = await ConnectAsync("limits.max-errors-per-session = 3", delivery);

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<a@example.net>\r\n" +
            "RCPT TO:<victim@elsewhere.example>\r\nRCPT TO:<guess1@example.com>\r\nRCPT TO:<guess2@example.com>\r\n" +
            "RCPT TO:<guess3@example.com>\r\n");
        var lines = await transport.Client.ReadToEndAsync();
        var finals = lines.Where(l => l[3] == ' ').ToList();

        Assert.Equal(6, finals.Count);
        Assert.StartsWith("550 5.7.1", finals[2]);
        Assert.StartsWith("550 5.1.1", finals[3]);
        Assert.StartsWith("550 5.1.1", finals[4]);
        Assert.StartsWith("421 4.7.0", finals[5]);
    }

    [Fact]
    public async Task Errors_RejectedMessageDoesNotCount()
    {
        var transport = await ConnectAsync("limits.max-errors-per-session = 1");

        await transport.Client.SendAsync(OpenTransaction + "bare\nLF\r\n.\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(6);

        Assert.StartsWith("550 5.6.0", replies[4]);
        Assert.StartsWith("250 2.0.0", replies[5]);
    }

    [Fact]
    public async Task Commands_PastLimitGet421AndClose()
    {
        var transport = await ConnectAsync("limits.max-commands-per-session = 10");

        await transport.Client.SendAsync(string.Concat(Enumerable.Repeat("NOOP\r\n", 12)));
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(11, lines.Count);
        Assert.All(lines.Take(10), line => Assert.StartsWith("250 2.0.0", line));
        Assert.Equal("421 4.7.0 mx.test Too many commands, closing connection", lines[10]);
    }

    [Fact]
    public async Task Transactions_PastLimitGet421AndClose()
    {
        var transport = await ConnectAsync("limits.max-transactions-per-session = 2");

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<a@example.net>\r\nRSET\r\n" +
            "MAIL FROM:<a@example.net>\r\nRSET\r\nMAIL FROM:<a@example.net>\r\nNOOP\r\n");
        var lines = await transport.Client.ReadToEndAsync();
        var finals = lines.Where(l => l[3] == ' ').ToList();

        Assert.Equal(6, finals.Count);
        Assert.StartsWith("250 2.1.0", finals[3]);
        Assert.Equal("421 4.7.0 mx.test Too many transactions, closing connection", finals[5]);
    }

    [Fact]
    public async Task DataLine_AtLimitIsAccepted()
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        var transport = await ConnectAsync("limits.max-data-line-length = 1000", delivery);

        await transport.Client.SendAsync(OpenTransaction + new string('a', 998) + "\r\n.\r\n");
        var replies = await transport.Client.ReadRepliesAsync(5);

        Assert.StartsWith("250 2.0.0", replies[4]);
    }

    [Fact]
    public async Task DataLine_OverLimitIs552AfterEnd()
    {
        var delivery = CreateDeliveryProbe();
        var transport = await ConnectAsync("limits.max-data-line-length = 1000", delivery);

        await transport.Client.SendAsync(OpenTransaction + new string('a', 999) + "\r\n.\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(6);

        Assert.Equal("552 5.3.4 Message contains a line longer than 1000 octets", replies[4]);
        Assert.StartsWith("250 2.0.0", replies[5]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task CommandTimeout_CoversWholeLine()
    {
        // A byte every 300 ms would restart a per-read timer forever; the line has 2 s in total.
        var transport = await ConnectAsync("timeouts.command = 2s");
        using var stop = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        var trickle = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && !transport.Closed.IsCompleted)
            {
                await transport.SendAsync("x"u8.ToArray());
                await Task.Delay(300);
            }
        });

        var lines = await transport.Client.ReadToEndAsync();
        var elapsed = watch.Elapsed;
        await stop.CancelAsync();
        await trickle;

        Assert.Equal(["421 4.4.2 mx.test Timeout, closing connection"], lines);
        Assert.True(elapsed < TimeSpan.FromSeconds(8), $"421 came after {elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task FirstCommandTimeout_AppliesOnlyBeforeFirstCommand()
    {
        var transport = await ConnectAsync("timeouts.first-command = 1s");

        string reply = await transport.Client.CommandAsync("NOOP\r\n");
        await Task.Delay(1500);
        string second = await transport.Client.CommandAsync("NOOP\r\n");

        Assert.StartsWith("250 ", reply);
        Assert.StartsWith("250 ", second);
    }

    [Fact]
    public async Task FirstCommandTimeout_Sends421()
    {
        var transport = await ConnectAsync("timeouts.first-command = 1s");

        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["421 4.4.2 mx.test Timeout, closing connection"], lines);
    }

    [Fact]
    public async Task SessionLifetime_Sends421ToBusyClient()
    {
        var transport = await ConnectAsync("timeouts.session-lifetime = 2s");
        var watch = Stopwatch.StartNew();
        string? last = null;

        while (watch.Elapsed < TimeSpan.FromSeconds(8))
        {
            await transport.Client.SendAsync("NOOP\r\n");
            last = await transport.Client.ReadLineAsync();
            if (last is null || last.StartsWith("421", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal("421 4.4.2 mx.test Session lifetime exceeded, closing connection", last);
        Assert.True(await transport.Client.IsAtEndAsync());
    }

    [Fact]
    public async Task DataRate_SlowSenderGets421()
    {
        var delivery = CreateDeliveryProbe();
        var transport = await ConnectAsync("limits.min-data-rate = 1000, limits.min-data-rate-window = 1s", delivery);
        await transport.Client.SendAsync(OpenTransaction);
        await transport.Client.ReadRepliesAsync(4);
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            // 10 bytes every 200 ms is 50 bytes/s; data-block (3 minutes) never expires.
            while (!stop.IsCancellationRequested && !transport.Closed.IsCompleted)
            {
                await transport.SendAsync("0123456789"u8.ToArray());
                await Task.Delay(200);
            }
        });

        var lines = await transport.Client.ReadToEndAsync();
        await stop.CancelAsync();
        await trickle;

        Assert.Equal(["421 4.4.2 mx.test Data rate too low, closing connection"], lines);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task DataRate_SlowChunkGets421()
    {
        var transport = await ConnectAsync("limits.min-data-rate = 1000, limits.min-data-rate-window = 1s");
        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\n");
        await transport.Client.ReadRepliesAsync(3);
        await transport.Client.SendAsync("BDAT 100000 LAST\r\n");
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && !transport.Closed.IsCompleted)
            {
                await transport.SendAsync("0123456789"u8.ToArray());
                await Task.Delay(200);
            }
        });

        var lines = await transport.Client.ReadToEndAsync();
        await stop.CancelAsync();
        await trickle;

        Assert.Equal(["421 4.4.2 mx.test Data rate too low, closing connection"], lines);
    }

    [Fact]
    public async Task DataRate_SteadySenderIsAccepted()
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        var transport = await ConnectAsync("limits.min-data-rate = 20, limits.min-data-rate-window = 1s", delivery);
        await transport.Client.SendAsync(OpenTransaction);
        await transport.Client.ReadRepliesAsync(4);

        // About 1000 bytes/s for 2.5 s, fifty times the minimum, so a test thread delayed on a loaded machine
        // still stays above it.
        for (int i = 0; i < 25; i++)
        {
            await transport.SendAsync(Encoding.ASCII.GetBytes(new string('a', 98) + "\r\n"));
            await Task.Delay(100);
        }

        string reply = await transport.Client.CommandAsync(".\r\n");

        Assert.StartsWith("250 2.0.0", reply);
    }

    [Fact]
    public async Task GreetingDelay_EarlyTalkerGets554()
    {
        var transport = StartSession(SessionSettings("smtp.greeting-delay = 2s"), CreateDeliveryProbe());

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<spam@example.net>\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["554 5.5.0 mx.test Protocol error: input before the greeting"], lines);
    }

    [Fact]
    public async Task GreetingDelay_PatientClientIsGreeted()
    {
        var watch = Stopwatch.StartNew();
        var transport = StartSession(SessionSettings("smtp.greeting-delay = 500ms"), CreateDeliveryProbe());

        string? greeting = await transport.Client.ReadLineAsync();
        var waited = watch.Elapsed;
        string reply = await transport.Client.CommandAsync("EHLO client.example\r\n");

        Assert.Equal("220 mx.test ESMTP Actors.Mta", greeting);
        Assert.True(waited >= TimeSpan.FromMilliseconds(450), $"greeted after {waited.TotalMilliseconds:0} ms");
        Assert.StartsWith("250 ", reply);
    }

    [Fact]
    public async Task GreetingDelay_ClientThatLeavesIsClosed()
    {
        var transport = StartSession(SessionSettings("smtp.greeting-delay = 5s"), CreateDeliveryProbe());

        transport.CompleteClientOutput();

        await transport.Closed.WaitAsync(Wait);
        Assert.True(await transport.Client.IsAtEndAsync());
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nEHLO evil.example\r\n")]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("\r\n\r\n\0\r\nQUIT\n\u0021\u0011\0\u000c")]
    public async Task ProxyHeader_FromUntrustedPeerCloses(string header)
    {
        var transport = await ConnectAsync("");

        await transport.Client.SendAsync(Encoding.Latin1.GetBytes(header));
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["554 5.7.0 mx.test PROXY protocol header not accepted from this address"], lines);
    }

    [Fact]
    public async Task ProxyHeader_BeforeGreetingCloses()
    {
        var transport = StartSession(SessionSettings("smtp.greeting-delay = 2s"), CreateDeliveryProbe());

        await transport.Client.SendAsync("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["554 5.7.0 mx.test PROXY protocol header not accepted from this address"], lines);
    }

    [Fact]
    public async Task ProxyWordLaterIsUnknownCommand()
    {
        var transport = await ConnectAsync("");

        await transport.Client.SendAsync("NOOP\r\nPROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(3);

        Assert.StartsWith("250 ", replies[0]);
        Assert.StartsWith("500 5.5.2", replies[1]);
        Assert.StartsWith("250 ", replies[2]);
    }
}

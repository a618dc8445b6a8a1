using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Queue;
using Actors.Mta.Core.Spool;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Addresses;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Delivery;

/// <summary>
/// The delivery manager with its real destination actors: example.com goes over LMTP to a fake server on
/// 127.0.0.1, example.org to a development sink in the temp directory. The queue is a <see cref="FakeQueue"/>.
/// </summary>
public sealed class DeliveryManagerTests(ITestOutputHelper output) : MtaTestKit(output), IAsyncLifetime
{
    private const string MessageText = "Received: from client.example ([127.0.0.1])\r\n\tby mx.test; Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
        "Subject: test\r\n\r\n.leading dot\r\nHello\r\n";

    private readonly FakeLmtpServer _lmtp = new();
    private TestProbe _queue = null!;

    private string SinkDirectory => Path.Combine(TempPath, "sink");

    public Task InitializeAsync()
    {
        _queue = CreateTestProbe();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _lmtp.DisposeAsync();

    private MtaSettings DeliverySettings(int lmtpPort, string overrides = "") => TestConfig.Load($$"""
        actors-mta {
          server-name = "mx.test"
          spool-directory = {{TestConfig.Quote(SpoolDirectory)}}
          accepted-domains = ["example.com", "example.org"]
          routes = [
            { domains = ["example.com"], destination = "lmtp:127.0.0.1:{{lmtpPort}}" }
            { domains = ["example.org"], destination = {{TestConfig.Quote("dev-sink:" + SinkDirectory)}} }
          ]
          timeouts.delivery = 10s
          lmtp.connect-timeout = 5s
          lmtp.reply-timeout = 5s
          {{overrides}}
        }
        """);

    private IActorRef StartManager(MtaSettings settings) =>
        Sys.ActorOf(DeliveryManager.Props(settings, queueProps: _ => FakeQueue.Props(_queue.Ref)));

    private DeliverMessage NewMessage(params string[] recipients)
    {
        string queueId = QueueId.New();
        string path = Path.Combine(SpoolDirectory, "incoming", queueId);
        File.WriteAllText(path, MessageText);
        var envelope = new Core.Delivery.MessageEnvelope(
            new Mailbox("sender", "example.net"),
            recipients.Select(Core.Queue.Mailboxes.Parse).ToList(),
            []);
        return new DeliverMessage(queueId, envelope, path, MessageText.Length);
    }

    private static int[] Codes(DeliveryReport report) => report.Results.Select(r => r.Reply.Code).ToArray();

    [Fact]
    public void Deliver_ToBothDestinationsReports250()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));
        var message = NewMessage("alice@example.com", "dave@example.org");

        manager.Tell(message, TestActor);
        var report = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal(message.QueueId, report.QueueId);
        Assert.Equal([250, 250], Codes(report));
        Assert.False(report.Queued);
        Assert.Equal(["lmtp:127.0.0.1:" + _lmtp.Port, "dev-sink:" + SinkDirectory], report.Results.Select(r => r.Destination));
    }

    [Fact]
    public void Deliver_LmtpServerGetsEnvelopeAndData()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(NewMessage("alice@example.com", "bob@example.com", "dave@example.org"), TestActor);
        ExpectMsg<DeliveryReport>(Wait);

        var received = Assert.Single(_lmtp.Messages);
        Assert.Equal("sender@example.net", received.Sender);
        Assert.Equal(["alice@example.com", "bob@example.com"], received.Recipients);
        Assert.Equal(MessageText, received.Data);
    }

    [Fact]
    public void Deliver_DevSinkStoresFilePerRecipient()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));
        var message = NewMessage("dave@example.org", "erin@example.org");

        manager.Tell(message, TestActor);
        ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal(MessageText, File.ReadAllText(Path.Combine(SinkDirectory, "dave@example.org", message.QueueId + ".eml")));
        Assert.Equal(MessageText, File.ReadAllText(Path.Combine(SinkDirectory, "erin@example.org", message.QueueId + ".eml")));
    }

    [Fact]
    public void Deliver_DeletesSpoolFileWhenDone()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));
        var message = NewMessage("alice@example.com");

        manager.Tell(message, TestActor);
        ExpectMsg<DeliveryReport>(Wait);

        AwaitAssert(() => Assert.False(File.Exists(message.Data.File)), Wait);
    }

    [Fact]
    public void Deliver_ReportsEachLmtpReply()
    {
        _lmtp.RcptReplies["bob@example.com"] = "550 5.1.1 User unknown";
        _lmtp.DataReplies["carol@example.com"] = "452 4.2.2 Mailbox full";
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(NewMessage("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.org"), TestActor);
        var report = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal([250, 550, 452, 250], Codes(report));
        Assert.Equal("5.1.1", report.Results[1].Reply.EnhancedCode);
        Assert.Equal("4.2.2", report.Results[2].Reply.EnhancedCode);
    }

    [Fact]
    public void Deliver_DeferredRecipientIsQueued()
    {
        _lmtp.RcptReplies["bob@example.com"] = "550 5.1.1 User unknown";
        _lmtp.DataReplies["carol@example.com"] = "452 4.2.2 Mailbox full";
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(NewMessage("alice@example.com", "bob@example.com", "carol@example.com"), TestActor);
        var enqueue = _queue.ExpectMsg<EnqueueMessage>(Wait);
        var report = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal(["carol@example.com"], enqueue.Pending.Select(r => r.Recipient.Address));
        Assert.Equal(["bob@example.com"], enqueue.Bounced.Select(r => r.Recipient.Address));
        Assert.True(report.Queued);
    }

    [Fact]
    public void Deliver_PartlyBouncedNotifiesSender()
    {
        _lmtp.RcptReplies["bob@example.com"] = "550 5.1.1 User unknown";
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(NewMessage("alice@example.com", "bob@example.com"), TestActor);
        var notify = _queue.ExpectMsg<NotifyFailures>(Wait);
        var report = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal(["bob@example.com"], notify.Failed.Select(r => r.Recipient.Address));
        Assert.Equal([250, 550], Codes(report));
        Assert.False(report.Queued);
    }

    [Fact]
    public void Deliver_DeadLmtpPortDefersOnlyItsRecipients()
    {
        var manager = StartManager(DeliverySettings(FakeLmtpServer.UnusedPort()));

        manager.Tell(NewMessage("alice@example.com", "dave@example.org", "bob@example.com"), TestActor);
        var report = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal([451, 250, 451], Codes(report));
        Assert.Equal("4.4.1", report.Results[0].Reply.EnhancedCode);
        Assert.True(report.Queued);
    }

    [Fact]
    public void Deliver_ReusesLmtpConnection()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(NewMessage("alice@example.com"), TestActor);
        var first = ExpectMsg<DeliveryReport>(Wait);
        manager.Tell(NewMessage("bob@example.com"), TestActor);
        var second = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal([250], Codes(first));
        Assert.Equal([250], Codes(second));
        Assert.Equal(2, _lmtp.Messages.Count);
        Assert.Equal(1, _lmtp.ConnectionCount);
        Assert.DoesNotContain("RSET", _lmtp.Commands);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Deliver_IdleClose421UsesNewConnection(bool pipelining)
    {
        await using var lmtp = new FakeLmtpServer(idleClose: TimeSpan.FromMilliseconds(300), pipelining: pipelining);
        var manager = StartManager(DeliverySettings(lmtp.Port));

        manager.Tell(NewMessage("alice@example.com"), TestActor);
        ExpectMsg<DeliveryReport>(Wait);
        await Task.Delay(TimeSpan.FromSeconds(1));
        manager.Tell(NewMessage("bob@example.com"), TestActor);
        var second = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal([250], Codes(second));
        Assert.False(second.Queued);
        Assert.Equal(2, lmtp.Messages.Count);
        Assert.Equal(2, lmtp.ConnectionCount);
    }

    [Fact]
    public async Task Deliver_HangingLmtpDoesNotDelayOtherDestination()
    {
        await using var hanging = new FakeLmtpServer(hang: true);
        var manager = StartManager(DeliverySettings(hanging.Port, "timeouts.delivery = 2s\nlmtp.connect-timeout = 30s"));
        var stuck = NewMessage("alice@example.com");
        var other = NewMessage("dave@example.org");

        manager.Tell(stuck, TestActor);
        manager.Tell(other, TestActor);
        var first = ExpectMsg<DeliveryReport>(Wait);
        var second = ExpectMsg<DeliveryReport>(Wait);

        Assert.Equal(other.QueueId, first.QueueId);
        Assert.Equal([250], Codes(first));
        Assert.Equal(stuck.QueueId, second.QueueId);
        Assert.Equal(451, second.Results[0].Reply.Code);
        Assert.Equal("4.4.7", second.Results[0].Reply.EnhancedCode);
    }

    [Fact]
    public void Verify_UnknownLmtpRecipientIsRejected()
    {
        _lmtp.RcptReplies["nobody@example.com"] = "550 5.1.1 User unknown";
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(new VerifyRecipient(new Mailbox("nobody", "example.com")), TestActor);
        var answer = ExpectMsg<RecipientVerified>(Wait);

        Assert.Equal(550, answer.Rejection?.Code);
        Assert.Contains("MAIL FROM:<>", _lmtp.Commands);
    }

    [Fact]
    public void Verify_KnownLmtpRecipientIsAccepted()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(new VerifyRecipient(new Mailbox("alice", "example.com")), TestActor);
        var answer = ExpectMsg<RecipientVerified>(Wait);

        Assert.Null(answer.Rejection);
    }

    [Fact]
    public void Verify_DevSinkRecipientIsNotChecked()
    {
        var manager = StartManager(DeliverySettings(_lmtp.Port));

        manager.Tell(new VerifyRecipient(new Mailbox("dave", "example.org")), TestActor);
        var answer = ExpectMsg<RecipientVerified>(Wait);

        Assert.Null(answer.Rejection);
        Assert.Equal(0, _lmtp.ConnectionCount);
    }
}

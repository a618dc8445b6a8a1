using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Spool;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Lmtp;
using Akka.Actor;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Delivery;

/// <summary>
/// One LMTP destination's pool: its circuit breaker against a port where nothing listens at first, and the
/// closing of idle connections, both with a <see cref="FakeLmtpServer"/> on 127.0.0.1.
/// </summary>
public sealed class LmtpDestinationTests(ITestOutputHelper output) : MtaTestKit(output), IAsyncLifetime
{
    private const string MessageText = "Subject: test\r\n\r\nHello\r\n";
    private const string BreakerOpenText = "circuit breaker open";
    private static readonly TimeSpan ResetTimeout = TimeSpan.FromSeconds(2);

    private readonly List<FakeLmtpServer> _servers = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    private FakeLmtpServer StartServer(int port = 0)
    {
        var server = new FakeLmtpServer(port: port);
        _servers.Add(server);
        return server;
    }

    private IActorRef StartDestination(int port, string overrides = "")
    {
        var settings = SessionSettings($$"""
            lmtp {
              connect-timeout = 5s
              reply-timeout = 5s
              breaker-max-failures = 2
              breaker-reset-timeout = {{(int)ResetTimeout.TotalSeconds}}s
              {{overrides}}
            }
            """);
        var destination = new Destination.Lmtp(new LmtpEndpoint.Tcp("127.0.0.1", port));
        return Sys.ActorOf(LmtpDestination.Props(destination, settings));
    }

    private DeliverToDestination NewJob()
    {
        string queueId = QueueId.New();
        string path = Path.Combine(TempPath, queueId + ".eml");
        File.WriteAllText(path, MessageText);
        var envelope = new Core.Delivery.MessageEnvelope(new Mailbox("sender", "example.net"), [new Mailbox("alice", "example.com")], []);
        return new DeliverToDestination(queueId, envelope, path, TestActor);
    }

    private RecipientResult Deliver(IActorRef destination)
    {
        var job = NewJob();
        destination.Tell(job);
        var results = ExpectMsg<DestinationResults>(Wait);
        Assert.Equal(job.QueueId, results.QueueId);
        return Assert.Single(results.Results);
    }

    // Fails breaker-max-failures (2) connections in a row, which opens the breaker.
    private IActorRef OpenBreaker(int port)
    {
        var destination = StartDestination(port);
        for (int i = 0; i < 2; i++)
        {
            var failed = Deliver(destination);
            Assert.Equal(451, failed.Reply.Code);
            Assert.DoesNotContain(BreakerOpenText, failed.Reply.ToString());
        }

        return destination;
    }

    [Fact]
    public void Breaker_OpenDefersWithoutConnecting()
    {
        int port = FakeLmtpServer.UnusedPort();
        var destination = OpenBreaker(port);
        var server = StartServer(port);

        var deferred = Deliver(destination);

        Assert.Equal(451, deferred.Reply.Code);
        Assert.Equal("4.4.1", deferred.Reply.EnhancedCode);
        Assert.Contains(BreakerOpenText, deferred.Reply.ToString());
        Assert.Equal(0, server.ConnectionCount);
        Assert.Empty(server.Messages);
    }

    [Fact]
    public async Task Breaker_HalfOpenSuccessCloses()
    {
        int port = FakeLmtpServer.UnusedPort();
        var destination = OpenBreaker(port);
        var server = StartServer(port);
        await Task.Delay(ResetTimeout + TimeSpan.FromMilliseconds(300));

        var first = Deliver(destination);
        var second = Deliver(destination);

        Assert.Equal(250, first.Reply.Code);
        Assert.Equal(250, second.Reply.Code);
        Assert.Equal(2, server.Messages.Count);
    }

    [Fact]
    public async Task Breaker_HalfOpenFailureReopens()
    {
        int port = FakeLmtpServer.UnusedPort();
        var destination = OpenBreaker(port);
        await Task.Delay(ResetTimeout + TimeSpan.FromMilliseconds(300));

        var probe = Deliver(destination);
        var deferred = Deliver(destination);

        Assert.Equal(451, probe.Reply.Code);
        Assert.DoesNotContain(BreakerOpenText, probe.Reply.ToString());
        Assert.Equal(451, deferred.Reply.Code);
        Assert.Contains(BreakerOpenText, deferred.Reply.ToString());
    }

    [Fact]
    public void Breaker_OneFailureStaysClosed()
    {
        int port = FakeLmtpServer.UnusedPort();
        var destination = StartDestination(port);
        var failed = Deliver(destination);
        var server = StartServer(port);

        var delivered = Deliver(destination);

        Assert.Equal(451, failed.Reply.Code);
        Assert.Equal(250, delivered.Reply.Code);
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public void Idle_ConnectionClosedAfterTimeout()
    {
        var server = StartServer();
        var destination = StartDestination(server.Port, "idle-timeout = 1s");

        var delivered = Deliver(destination);

        Assert.Equal(250, delivered.Reply.Code);
        Assert.DoesNotContain("QUIT", server.Commands);

        // The idle check runs every idle-timeout, so a connection idle for 1 s is closed within about 2 s.
        AwaitAssert(() => Assert.Contains("QUIT", server.Commands), TimeSpan.FromSeconds(5));
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public void Idle_NewConnectionAfterClose()
    {
        var server = StartServer();
        var destination = StartDestination(server.Port, "idle-timeout = 1s");
        Deliver(destination);
        AwaitAssert(() => Assert.Contains("QUIT", server.Commands), TimeSpan.FromSeconds(5));

        var delivered = Deliver(destination);

        Assert.Equal(250, delivered.Reply.Code);
        Assert.Equal(2, server.ConnectionCount);
    }
}

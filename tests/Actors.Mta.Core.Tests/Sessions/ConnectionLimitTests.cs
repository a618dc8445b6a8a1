using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// Connection floods and PROXY headers at the session supervisor: limits per client and in total, the rate per
/// client, and the client address taken from a trusted proxy's header.
/// </summary>
public sealed class ConnectionLimitTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const string Transaction =
        "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: t\r\n\r\nHi\r\n.\r\n";

    private static readonly IPEndPoint Proxy = new(IPAddress.Loopback, 50000);

    private IActorRef StartSupervisor(string overrides, IActorRef? delivery = null) =>
        Sys.ActorOf(SessionSupervisor.Props(SessionSettings(overrides), delivery ?? CreateDeliveryProbe()));

    private static PipeTransport Connect(IActorRef supervisor, string address, int port = 40000)
    {
        var transport = new PipeTransport(new IPEndPoint(IPAddress.Parse(address), port));
        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        return transport;
    }

    private async Task<int> SessionCountAsync(IActorRef supervisor) =>
        await supervisor.Ask<int>(SessionSupervisor.GetSessionCount.Instance, Wait);

    private static async Task<string?> FirstLineAsync(PipeTransport transport) => await transport.Client.ReadLineAsync();

    [Fact]
    public async Task MaxConnections_RejectsWithoutSession()
    {
        var supervisor = StartSupervisor("limits.max-connections = 2");
        var first = Connect(supervisor, "192.0.2.1");
        var second = Connect(supervisor, "192.0.2.2");
        await FirstLineAsync(first);
        await FirstLineAsync(second);

        var third = Connect(supervisor, "192.0.2.3");
        var lines = await third.Client.ReadToEndAsync();

        Assert.Equal(["421 4.7.0 mx.test Too many connections, try again later"], lines);
        Assert.Equal(2, await SessionCountAsync(supervisor));
    }

    [Fact]
    public async Task PerClient_RejectsThirdFromSameAddress()
    {
        var supervisor = StartSupervisor("limits.max-connections-per-client = 2");
        var sessions = new[] { Connect(supervisor, "192.0.2.1"), Connect(supervisor, "192.0.2.1", 40001) };
        foreach (var session in sessions)
        {
            Assert.StartsWith("220 ", await FirstLineAsync(session));
        }

        var rejected = Connect(supervisor, "192.0.2.1", 40002);
        var other = Connect(supervisor, "192.0.2.2");

        Assert.Equal(["421 4.7.0 mx.test Too many connections from your address, try again later"], await rejected.Client.ReadToEndAsync());
        Assert.StartsWith("220 ", await FirstLineAsync(other));
    }

    [Fact]
    public async Task PerClient_GroupsIpv6By64()
    {
        var supervisor = StartSupervisor("limits.max-connections-per-client = 1");
        var first = Connect(supervisor, "2001:db8:1:2::1");
        Assert.StartsWith("220 ", await FirstLineAsync(first));

        var sameNetwork = Connect(supervisor, "2001:db8:1:2:ffff:ffff:ffff:ffff");
        var nextNetwork = Connect(supervisor, "2001:db8:1:3::1");

        Assert.StartsWith("421 4.7.0", await FirstLineAsync(sameNetwork));
        Assert.StartsWith("220 ", await FirstLineAsync(nextNetwork));
    }

    [Fact]
    public async Task PerClient_ClosedSessionFreesSlot()
    {
        var supervisor = StartSupervisor("limits.max-connections-per-client = 1");
        var first = Connect(supervisor, "192.0.2.1");
        await FirstLineAsync(first);
        await first.Client.CommandAsync("QUIT\r\n");
        await AwaitAssertAsync(async () => Assert.Equal(0, await SessionCountAsync(supervisor)), Wait);

        var second = Connect(supervisor, "192.0.2.1", 40001);

        Assert.StartsWith("220 ", await FirstLineAsync(second));
    }

    [Fact]
    public async Task Rate_RejectsBurstOverLimit()
    {
        var supervisor = StartSupervisor("limits.max-connection-rate-per-client = 3");
        for (int i = 0; i < 3; i++)
        {
            var transport = Connect(supervisor, "192.0.2.1", 40000 + i);
            Assert.StartsWith("220 ", await FirstLineAsync(transport));
            await transport.Client.CommandAsync("QUIT\r\n");
        }

        var fourth = Connect(supervisor, "192.0.2.1", 40003);
        var other = Connect(supervisor, "192.0.2.2");

        Assert.Equal(["421 4.7.0 mx.test Too many connections from your address per minute, try again later"],
            await fourth.Client.ReadToEndAsync());
        Assert.StartsWith("220 ", await FirstLineAsync(other));
    }

    [Fact]
    public async Task Flood_SessionCountStaysAtLimit()
    {
        var supervisor = StartSupervisor("limits.max-connections = 5, limits.max-connections-per-client = 0, limits.max-connection-rate-per-client = 0");
        var transports = Enumerable.Range(0, 200).Select(i => Connect(supervisor, "192.0.2.1", 40000 + i)).ToList();

        var firstLines = await Task.WhenAll(transports.Select(FirstLineAsync));

        Assert.Equal(5, firstLines.Count(line => line!.StartsWith("220 ", StringComparison.Ordinal)));
        Assert.Equal(195, firstLines.Count(line => line!.StartsWith("421 4.7.0", StringComparison.Ordinal)));
        Assert.Equal(5, await SessionCountAsync(supervisor));
    }

    [Fact]
    public async Task ProxyV1_ClientAddressReachesReceivedHeader()
    {
        var delivery = CreateDeliveryProbe();
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.0/8\"]", delivery);
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));

        await transport.Client.SendAsync("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n");
        Assert.StartsWith("220 ", await FirstLineAsync(transport));
        await transport.Client.SendAsync(Transaction);
        var (received, _) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.StartsWith("Received: from client.example ([192.0.2.7])", received);
    }

    [Fact]
    public async Task ProxyV2_ClientAddressReachesReceivedHeader()
    {
        var delivery = CreateDeliveryProbe();
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"]", delivery);
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));

        // The header and the client's first command in one write, as a proxy may forward them.
        await transport.Client.SendAsync([.. ProxyV2(IPAddress.Parse("2001:db8::7")), .. "EHLO client.example\r\n"u8]);
        Assert.StartsWith("220 ", await FirstLineAsync(transport));
        await transport.Client.ReadReplyAsync();
        await transport.Client.SendAsync("MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nHi\r\n.\r\n");
        var (received, _) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.StartsWith("Received: from client.example ([IPv6:2001:db8::7])", received);
    }

    [Fact]
    public async Task ProxyV2Local_UsesProxyAddress()
    {
        var delivery = CreateDeliveryProbe();
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"]", delivery);
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        byte[] local = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00];

        await transport.Client.SendAsync(local);
        Assert.StartsWith("220 ", await FirstLineAsync(transport));
        await transport.Client.SendAsync(Transaction);
        var (received, _) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.StartsWith("Received: from client.example ([127.0.0.1])", received);
    }

    [Fact]
    public async Task Proxy_LimitsApplyToProxiedClient()
    {
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"], limits.max-connections-per-client = 1");
        var transports = new List<PipeTransport>();
        foreach (string client in new[] { "192.0.2.7", "192.0.2.7", "192.0.2.8" })
        {
            var transport = new PipeTransport(new IPEndPoint(IPAddress.Loopback, 50000 + transports.Count));
            supervisor.Tell(new SessionSupervisor.StartSession(transport));
            await transport.Client.SendAsync($"PROXY TCP4 {client} 198.51.100.1 56324 25\r\n");
            transports.Add(transport);
        }

        var lines = await Task.WhenAll(transports.Select(FirstLineAsync));

        Assert.StartsWith("220 ", lines[0]);
        Assert.StartsWith("421 4.7.0", lines[1]);
        Assert.StartsWith("220 ", lines[2]);
    }

    [Theory]
    [InlineData("EHLO client.example\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n")]
    [InlineData("PROXY TCP4 not-an-address 198.51.100.1 56324 25\r\n")]
    public async Task TrustedPeer_WithoutValidHeaderIsClosed(string input)
    {
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"]");
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));

        await transport.Client.SendAsync(input);
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Empty(lines);
        Assert.Equal(0, await SessionCountAsync(supervisor));
    }

    [Fact]
    public async Task TrustedPeer_SilentIsClosedAfterTimeout()
    {
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"], proxy-protocol.header-timeout = 1s");
        var transport = new PipeTransport(Proxy);
        var watch = Stopwatch.StartNew();

        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Empty(lines);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"closed after {watch.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task UntrustedPeer_GetsNoHeaderHandling()
    {
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"192.0.2.0/24\"]");
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        Assert.StartsWith("220 ", await FirstLineAsync(transport));

        await transport.Client.SendAsync("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["554 5.7.0 mx.test PROXY protocol header not accepted from this address"], lines);
    }

    [Fact]
    public async Task Proxy_EarlyTalkerBehindProxyGets554()
    {
        var supervisor = StartSupervisor("proxy-protocol.trusted = [\"127.0.0.1\"], smtp.greeting-delay = 2s");
        var transport = new PipeTransport(Proxy);
        supervisor.Tell(new SessionSupervisor.StartSession(transport));

        await transport.Client.SendAsync("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nEHLO spammer.example\r\n");
        var lines = await transport.Client.ReadToEndAsync();

        Assert.Equal(["554 5.5.0 mx.test Protocol error: input before the greeting"], lines);
    }

    private static byte[] ProxyV2(IPAddress source)
    {
        var header = new byte[16 + 36];
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        signature.CopyTo(header, 0);
        header[12] = 0x21;
        header[13] = 0x21;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), 36);
        source.GetAddressBytes().CopyTo(header, 16);
        IPAddress.Parse("2001:db8::1").GetAddressBytes().CopyTo(header, 32);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(48), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(50), 25);
        return header;
    }
}

/// <summary>The per-client bookkeeping of the supervisor, with a clock the test moves.</summary>
public sealed class ConnectionLimiterTests
{
    private static readonly Actors.Mta.Core.Configuration.MtaSettings Settings = TestConfig.Load("""
        actors-mta.limits.max-connections = 100
        actors-mta.limits.max-connections-per-client = 2
        actors-mta.limits.max-connection-rate-per-client = 3
        """);

    private long _now = 1_000_000;

    private void Advance(TimeSpan time) => _now += (long)(time.TotalSeconds * Stopwatch.Frequency);

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1")]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::", "2001:db8:1:2::/64")]
    public void ClientKey_GroupsByClient(string address, string expected)
    {
        Assert.Equal(expected, ConnectionLimiter.ClientKey(IPAddress.Parse(address)));
    }

    [Fact]
    public void Rate_RefillsOneTokenPer20Seconds()
    {
        var limiter = new ConnectionLimiter(() => _now);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Admission.Admitted, limiter.TryAdmit("a", 0, Settings));
            limiter.Release("a");
        }

        var rejected = limiter.TryAdmit("a", 0, Settings);
        Advance(TimeSpan.FromSeconds(21));
        var afterRefill = limiter.TryAdmit("a", 0, Settings);

        Assert.Equal(Admission.RateExceeded, rejected);
        Assert.Equal(Admission.Admitted, afterRefill);
    }

    [Fact]
    public void Rejected_TakesNoSlotOrToken()
    {
        var limiter = new ConnectionLimiter(() => _now);
        limiter.TryAdmit("a", 0, Settings);
        limiter.TryAdmit("a", 0, Settings);

        var rejected = limiter.TryAdmit("a", 0, Settings);
        limiter.Release("a");
        var next = limiter.TryAdmit("a", 0, Settings);

        Assert.Equal(Admission.TooManyFromClient, rejected);
        Assert.Equal(Admission.Admitted, next);
        Assert.Equal(2, limiter.OpenSessions("a"));
    }

    [Fact]
    public void Sweep_ForgetsIdleClients()
    {
        var limiter = new ConnectionLimiter(() => _now);
        limiter.TryAdmit("idle", 0, Settings);
        limiter.Release("idle");
        limiter.TryAdmit("busy", 0, Settings);

        limiter.Sweep(Settings);
        int beforeRefill = limiter.TrackedClients;
        Advance(TimeSpan.FromMinutes(1));
        limiter.Sweep(Settings);

        Assert.Equal(2, beforeRefill);
        Assert.Equal(1, limiter.TrackedClients);
        Assert.Equal(1, limiter.OpenSessions("busy"));
    }
}

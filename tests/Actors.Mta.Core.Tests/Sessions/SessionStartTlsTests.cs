using System.Security.Authentication;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Core.Tests.Infrastructure;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// STARTTLS (RFC 3207): the EHLO keyword, the command's sequence and syntax errors, the handshake on a real
/// loopback socket, the session reset after it, and input pipelined after STARTTLS that must never be executed.
/// </summary>
public sealed class SessionStartTlsTests : MtaTestKit
{
    private readonly TestCertificate _certificate;

    public SessionStartTlsTests(ITestOutputHelper output)
        : base(output)
    {
        _certificate = TestCertificate.Write(TempPath);
    }

    private string TlsOverrides(string extra = "") => _certificate.Overrides + "\n" + extra;

    private async Task<TranscriptClient> ConnectWithEhloAsync(string overrides)
    {
        var transport = StartSession(SessionSettings(overrides), CreateDeliveryProbe());
        var client = transport.Client;
        await client.ReadReplyAsync();
        await client.SendAsync("EHLO client.example\r\n");
        await client.ReadReplyAsync();
        return client;
    }

    private async Task<(LoopbackConnection Connection, TestProbe Delivery)> OpenSocketAsync(string overrides)
    {
        var delivery = CreateDeliveryProbe();
        var supervisor = Sys.ActorOf(SessionSupervisor.Props(SessionSettings(overrides), delivery));
        var connection = await LoopbackConnection.OpenAsync(transport => supervisor.Tell(new SessionSupervisor.StartSession(transport)));
        Assert.StartsWith("220 ", (await connection.ReadReplyAsync())[^1]);
        return (connection, delivery);
    }

    private static async Task StartTlsAsync(LoopbackConnection connection)
    {
        await connection.SendAsync("EHLO client.example\r\n");
        await connection.ReadReplyAsync();
        Assert.Equal("220 2.0.0 Ready to start TLS", await connection.CommandAsync("STARTTLS\r\n"));
        await connection.StartTlsAsync();
    }

    [Fact]
    public async Task Ehlo_AdvertisesStartTlsWhenConfigured()
    {
        var transport = StartSession(SessionSettings(TlsOverrides()), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\n");
        var reply = await transport.Client.ReadReplyAsync();

        Assert.Contains("250-STARTTLS", reply);
    }

    [Fact]
    public async Task Ehlo_OmitsStartTlsWithoutCertificate()
    {
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\n");
        var reply = await transport.Client.ReadReplyAsync();

        Assert.DoesNotContain(reply, line => line.Contains("STARTTLS"));
    }

    [Fact]
    public async Task StartTls_NotConfiguredIs502()
    {
        var client = await ConnectWithEhloAsync("");

        Assert.Equal("502 5.5.1 Command not implemented", await client.CommandAsync("STARTTLS\r\n"));
    }

    [Fact]
    public async Task StartTls_WithArgumentIs501()
    {
        var client = await ConnectWithEhloAsync(TlsOverrides());

        Assert.Equal("501 5.5.4 Syntax: STARTTLS", await client.CommandAsync("STARTTLS now\r\n"));
        Assert.StartsWith("250 ", await client.CommandAsync("NOOP\r\n"));
    }

    [Fact]
    public async Task StartTls_InsideTransactionIs503()
    {
        var client = await ConnectWithEhloAsync(TlsOverrides());
        await client.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        Assert.StartsWith("503 5.5.1 ", await client.CommandAsync("STARTTLS\r\n"));
        Assert.StartsWith("250 ", await client.CommandAsync("RCPT TO:<alice@example.com>\r\n"));
    }

    [Fact]
    public async Task StartTls_PipelinedCommandsNeverAnswered()
    {
        // The in-memory transport has no TLS, so the session closes after the 220: what matters here is that the
        // MAIL sent in the same write as STARTTLS gets no reply of its own.
        var client = await ConnectWithEhloAsync(TlsOverrides());

        await client.SendAsync("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<alice@example.com>\r\n");
        var lines = await client.ReadToEndAsync();

        Assert.Equal(["220 2.0.0 Ready to start TLS"], lines);
    }

    [Fact]
    public async Task StartTls_HandshakeNegotiatesTls12OrLater()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;

        await StartTlsAsync(connection);

        Assert.True(connection.Tls!.SslProtocol is SslProtocols.Tls12 or SslProtocols.Tls13, connection.Tls.SslProtocol.ToString());
        Assert.Equal(_certificate.Certificate.Thumbprint, connection.Tls.RemoteCertificate!.GetCertHashString());
    }

    [Fact]
    public async Task StartTls_ResetsHeloAndTransaction()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await StartTlsAsync(connection);

        string mail = await connection.CommandAsync("MAIL FROM:<sender@example.net>\r\n");

        Assert.Equal("503 5.5.1 Send EHLO or HELO first", mail);
    }

    [Fact]
    public async Task StartTls_EhloAfterTlsOmitsStartTls()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await StartTlsAsync(connection);

        await connection.SendAsync("EHLO client.example\r\n");
        var reply = await connection.ReadReplyAsync();

        Assert.Equal("250-mx.test Hello client.example", reply[0]);
        Assert.DoesNotContain(reply, line => line.Contains("STARTTLS"));
    }

    [Fact]
    public async Task StartTls_SecondStartTlsIs503()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await StartTlsAsync(connection);
        await connection.SendAsync("EHLO client.example\r\n");
        await connection.ReadReplyAsync();

        Assert.Equal("503 5.5.1 TLS is already active", await connection.CommandAsync("STARTTLS\r\n"));
        Assert.StartsWith("250 ", await connection.CommandAsync("NOOP\r\n"));
    }

    [Fact]
    public async Task StartTls_ReceivedSaysEsmtps()
    {
        var (connection, delivery) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await StartTlsAsync(connection);

        await connection.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
        await connection.ReadReplyAsync();
        var replies = new[] { (await connection.ReadReplyAsync())[^1], (await connection.ReadReplyAsync())[^1], (await connection.ReadReplyAsync())[^1] };
        await connection.SendAsync("Subject: tls\r\n\r\nsecret\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        var (received, body) = ReadSpool(message);

        Assert.Equal(["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"], replies);
        Assert.Contains(" with ESMTPS id ", received);
        Assert.Equal("Subject: tls\r\n\r\nsecret\r\n", body);
    }

    [Fact]
    public async Task StartTls_Utf8ReceivedSaysUtf8Smtps()
    {
        var (connection, delivery) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await StartTlsAsync(connection);

        await connection.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net> SMTPUTF8\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
        for (int i = 0; i < 4; i++)
        {
            await connection.ReadReplyAsync();
        }

        await connection.SendAsync("Subject: tls\r\n\r\nsecret\r\n.\r\n");
        var (received, _) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.Contains(" with UTF8SMTPS id ", received);
    }

    [Fact]
    public async Task StartTls_PipelinedMailDiscardedAndLogged()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await connection.SendAsync("EHLO client.example\r\n");
        await connection.ReadReplyAsync();

        await EventFilter.Warning(contains: "sent after STARTTLS").ExpectOneAsync(async () =>
        {
            await connection.SendAsync("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\n");
            Assert.Equal("220 2.0.0 Ready to start TLS", (await connection.ReadReplyAsync())[^1]);
        });
        await connection.StartTlsAsync();

        // The first reply inside TLS belongs to the first command sent inside TLS, and MAIL still needs EHLO.
        Assert.Equal("250 2.0.0 Ok", await connection.CommandAsync("NOOP\r\n"));
        Assert.Equal("503 5.5.1 Send EHLO or HELO first", await connection.CommandAsync("MAIL FROM:<sender@example.net>\r\n"));
    }

    [Fact]
    public async Task StartTls_PlainTextHandshakeClosesConnection()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = connection;
        await connection.SendAsync("EHLO client.example\r\n");
        await connection.ReadReplyAsync();
        await connection.CommandAsync("STARTTLS\r\n");

        await connection.SendAsync("EHLO still.plain\r\nMAIL FROM:<evil@example.net>\r\n");

        Assert.True(await connection.IsClosedAsync());
    }

    [Fact]
    public async Task StartTls_FailedHandshakeSparesOtherSession()
    {
        var (other, _) = await OpenSocketAsync(TlsOverrides());
        await using var _ = other;
        var (failing, _) = await OpenSocketAsync(TlsOverrides());
        await using var __ = failing;
        await failing.CommandAsync("STARTTLS\r\n");

        await failing.SendAsync("not a TLS record\r\n");

        Assert.True(await failing.IsClosedAsync());
        Assert.Equal("250 2.0.0 Ok", await other.CommandAsync("NOOP\r\n"));
    }

    [Fact]
    public async Task StartTls_SilentClientTimesOut()
    {
        var (connection, _) = await OpenSocketAsync(TlsOverrides("tls.handshake-timeout = 1s"));
        await using var _ = connection;
        await connection.CommandAsync("STARTTLS\r\n");

        var started = DateTime.UtcNow;
        bool closed = await connection.IsClosedAsync();

        Assert.True(closed);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, TimeSpan.FromSeconds(8));
    }
}

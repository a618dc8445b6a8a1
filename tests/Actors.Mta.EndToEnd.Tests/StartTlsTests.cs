using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// STARTTLS (RFC 3207) against a server with a self-signed certificate made by the test: OpenSSL's s_client and
/// swaks deliver through TLS to Dovecot, commands pipelined after STARTTLS are never executed, and a failed
/// handshake closes only its own connection.
/// </summary>
public sealed class StartTlsTests : EndToEndTest, IDisposable
{
    private const string Sender = "tls-sender@example.net";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LogWait = TimeSpan.FromSeconds(10);

    private readonly string directory = Directory.CreateTempSubdirectory("actors-mta-tls-").FullName;
    private readonly TestCertificate certificate;

    public StartTlsTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
        certificate = TestCertificate.Write(directory);
    }

    private Task<ServerProcess> StartTlsServerAsync() => ServerProcess.StartAsync(Dovecot.LmtpDestination, certificate.Overrides);

    [Fact]
    public async Task OpensslClient_DeliversThroughTls()
    {
        await using var server = await StartTlsServerAsync();
        var mark = Dovecot.Mark();
        var token = Guid.NewGuid().ToString("N");
        var message = $"Subject: openssl {token}\r\nMessage-ID: <{token}@openssl.e2e.test>\r\n\r\nSent through s_client.\r\n";

        // s_client sends its own EHLO and STARTTLS, then copies standard input (LF turned into CRLF by -crlf).
        // -ign_eof keeps it reading replies after the input ends, until the server closes after QUIT.
        var input = "EHLO openssl.e2e.test\nMAIL FROM:<" + Sender + ">\nRCPT TO:<alice@example.com>\nDATA\n"
            + message.Replace("\r\n", "\n") + ".\nQUIT\n";
        var result = await ExternalTool.RunAsync(
            ExternalTool.Locate("openssl", "openssl"),
            ["s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{server.Port}", "-servername", ServerProcess.TestServerName,
             "-crlf", "-ign_eof", "-brief"],
            ToolTimeout,
            Encoding.ASCII.GetBytes(input));
        Output.WriteLine(result.Transcript);
        Output.WriteLine(server.Output.ToString());

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Matches(@"Protocol version: TLSv1\.[23]", result.Stderr);
        Assert.Contains("250 2.0.0 Ok: delivered as", result.Stdout);
        Assert.Contains("221 2.0.0", result.Stdout);
        var stored = AssertDeliveredExactly(mark, "alice@example.com", Encoding.ASCII.GetBytes(message), Sender);
        Assert.Contains(" with ESMTPS id ", Assert.Single(stored.FieldsNamed("Received")).Raw);
    }

    [Fact]
    public async Task OpensslClient_Tls11Rejected()
    {
        await using var server = await StartTlsServerAsync();

        // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so the refusal comes from the server.
        var result = await ExternalTool.RunAsync(
            ExternalTool.Locate("openssl", "openssl"),
            ["s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{server.Port}", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief"],
            ToolTimeout,
            Encoding.ASCII.GetBytes("QUIT\n"));
        Output.WriteLine(result.Transcript);

        Assert.True(result.ExitCode != 0, result.Transcript);
        Assert.DoesNotContain("Protocol version: TLSv1.1", result.Stderr);
    }

    [Fact]
    public async Task Swaks_DeliversWithTls()
    {
        await using var server = await StartTlsServerAsync();
        var mark = Dovecot.Mark();
        var message = MessageCorpus.Get("plain-ascii.eml").Content;
        var file = Path.Combine(directory, "message.eml");
        await File.WriteAllBytesAsync(file, message[..^2]);

        var result = await ExternalTool.RunAsync(
            ExternalTool.Locate("swaks", "swaks"),
            ["--server", $"127.0.0.1:{server.Port}", "--tls", "--helo", "swaks.e2e.test", "--from", Sender,
             "--to", "bob@example.com", "--timeout", "60", "--data", "@" + file],
            ToolTimeout);
        Output.WriteLine(result.Transcript);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Contains("<-  220 2.0.0 Ready to start TLS", result.Stdout);
        Assert.Contains("=== TLS started", result.Stdout);
        var stored = AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
        Assert.Contains(" with ESMTPS id ", Assert.Single(stored.FieldsNamed("Received")).Raw);
    }

    [Fact]
    public async Task PipelinedMail_NeverExecutedInTls()
    {
        await using var server = await StartTlsServerAsync();
        var mark = Dovecot.Mark();
        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO pipeline.e2e.test");

        await smtp.SendRawAsync(
            Encoding.ASCII.GetBytes("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<alice@example.com>\r\n"),
            "STARTTLS, MAIL and RCPT in one write");
        var ready = await smtp.ReadReplyAsync();
        await smtp.StartTlsAsync(ServerProcess.TestServerName);
        var noop = await smtp.CommandAsync("NOOP");
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}>");
        await smtp.CommandAsync("QUIT");

        Assert.True(ready.Code == 220, smtp.Transcript);
        Assert.True(noop.Code == 250, smtp.Transcript);
        Assert.True(mail.Code == 503, smtp.Transcript);
        Assert.True(await WaitForLogAsync(server, "sent after STARTTLS"), server.Output.ToString());
        Assert.Empty(mark.NewMessages(Dovecot, "alice@example.com"));
    }

    [Fact]
    public async Task BadHandshake_ClosesOnlyThatConnection()
    {
        await using var server = await StartTlsServerAsync();
        await using var other = await SmtpLineClient.ConnectAsync(server.Port);
        await other.ReadReplyAsync();
        await other.CommandAsync("EHLO other.e2e.test");
        await using var failing = await SmtpLineClient.ConnectAsync(server.Port);
        await failing.ReadReplyAsync();
        await failing.CommandAsync("EHLO failing.e2e.test");
        await failing.CommandAsync("STARTTLS");

        await failing.SendLineAsync("EHLO still.plain.text");
        bool closed = await failing.IsClosedAsync();
        var noop = await other.CommandAsync("NOOP");

        Assert.True(closed, failing.Transcript);
        Assert.True(noop.Code == 250, other.Transcript);
        Assert.True(await WaitForLogAsync(server, "TLS handshake failed"), server.Output.ToString());
        Assert.False(server.HasExited);
    }

    private static async Task<bool> WaitForLogAsync(ServerProcess server, string text)
    {
        var deadline = DateTime.UtcNow + LogWait;
        while (!server.Output.ToString().Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }

    void IDisposable.Dispose()
    {
        Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
    }
}

using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>SIGHUP re-reads the configuration file: valid changes reach new sessions, invalid ones are rejected.</summary>
public sealed class ReloadTests(ITestOutputHelper output)
{
    private const int SignalHangUp = 1;
    private static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Reload_AddsAcceptedDomainForNewSessions()
    {
        var sink = Directory.CreateTempSubdirectory("actors-mta-reload-sink-").FullName;
        await using var server = await ServerProcess.StartAsync("dev-sink:" + sink, "actors-mta.verification.enabled = off");
        try
        {
            var before = await RcptReplyAsync(server.Port, "user@example.net");

            // An open session keeps the settings it started with.
            await using var open = await SmtpLineClient.ConnectAsync(server.Port);
            await open.ReadReplyAsync();
            await open.CommandAsync("EHLO open.e2e.test");
            await open.CommandAsync("MAIL FROM:<sender@example.org>");

            File.AppendAllText(server.ConfigPath, "\nactors-mta.accepted-domains = [\"example.com\", \"example.org\", \"example.net\"]\n");
            int mark = server.Output.Count;
            Assert.Equal(0, Posix.Kill(server.ProcessId, SignalHangUp));
            await WaitForLogAsync(server, mark, "Configuration reloaded");

            var after = await RcptReplyAsync(server.Port, "user@example.net");
            var openAfter = await open.CommandAsync("RCPT TO:<user@example.net>");

            Assert.Equal(550, before.Code);
            Assert.Equal(250, after.Code);
            Assert.Equal(550, openAfter.Code);
            Assert.False(server.HasExited, "SIGHUP must not end the server");
        }
        finally
        {
            output.WriteLine(server.Output.ToString());
        }
    }

    [Fact]
    public async Task Reload_InvalidFileKeepsSettingsInForce()
    {
        var sink = Directory.CreateTempSubdirectory("actors-mta-reload-sink-").FullName;
        await using var server = await ServerProcess.StartAsync("dev-sink:" + sink, "actors-mta.verification.enabled = off");
        try
        {
            File.AppendAllText(server.ConfigPath,
                "\nactors-mta.accepted-domains = [\"example.com\", \"example.org\", \"example.net\"]\nactors-mta.limits.max-recipients = 5\n");
            int mark = server.Output.Count;
            Assert.Equal(0, Posix.Kill(server.ProcessId, SignalHangUp));
            string log = await WaitForLogAsync(server, mark, "Reload rejected");

            var reply = await RcptReplyAsync(server.Port, "user@example.net");

            Assert.Contains("actors-mta.limits.max-recipients", log);
            Assert.Equal(550, reply.Code);
            Assert.False(server.HasExited, "an invalid reload must not end the server");
        }
        finally
        {
            output.WriteLine(server.Output.ToString());
        }
    }

    private static async Task<SmtpReply> RcptReplyAsync(int port, string recipient)
    {
        await using var smtp = await SmtpLineClient.ConnectAsync(port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO reload.e2e.test");
        await smtp.CommandAsync("MAIL FROM:<sender@example.org>");
        var reply = await smtp.CommandAsync($"RCPT TO:<{recipient}>");
        await smtp.CommandAsync("QUIT");
        return reply;
    }

    private static async Task<string> WaitForLogAsync(ServerProcess server, int mark, string text)
    {
        var deadline = DateTime.UtcNow + LogTimeout;
        while (DateTime.UtcNow < deadline)
        {
            string log = server.Output.Since(mark);
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The server did not log \"{text}\" within {LogTimeout.TotalSeconds} s:\n{server.Output.Since(mark)}");
    }
}

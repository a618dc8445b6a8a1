using System.Collections.Concurrent;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// SIGTERM during a load: the server stops accepting, lets transactions in progress finish within the grace
/// period, tells everyone else 421, keeps every message it answered 250, and exits 0.
/// </summary>
public sealed class DrainTests(ITestOutputHelper output)
{
    private const int LoadClients = 6;
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task Sigterm_DrainsWithoutLosingAcceptedMail()
    {
        var sink = Directory.CreateTempSubdirectory("actors-mta-drain-sink-").FullName;
        var server = await ServerProcess.StartAsync("dev-sink:" + sink,
            "actors-mta.verification.enabled = off",
            $"actors-mta.shutdown.grace-period = {GracePeriod.TotalSeconds:0}s",
            "akka.coordinated-shutdown.phases.service-requests-done.timeout = 30s");
        var accepted = new ConcurrentBag<string>();
        var violations = new ConcurrentBag<string>();
        using var stopLoad = new CancellationTokenSource();
        try
        {
            var load = Enumerable.Range(0, LoadClients)
                .Select(i => Task.Run(() => RunLoadClientAsync(server.Port, i, accepted, violations, stopLoad.Token)))
                .ToList();

            // One client finishes its data after SIGTERM, within the grace period; one never finishes it.
            await using var finishing = await OpenDataAsync(server.Port, "finishing");
            await using var stalled = await OpenDataAsync(server.Port, "stalled");
            await Task.Delay(TimeSpan.FromSeconds(2));

            var terminate = server.TerminateAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(1));
            await finishing.SendDataAsync(Encoding.ASCII.GetBytes("the rest of the message\r\n"));
            var finishingReply = await finishing.ReadReplyAsync();
            var stalledReply = await ReadReplyOrNullAsync(stalled);
            int? exitCode = await terminate;
            stopLoad.Cancel();
            await Task.WhenAll(load);

            string stored = string.Join("\n", Directory.EnumerateFiles(sink, "*.eml", SearchOption.AllDirectories).Select(File.ReadAllText));
            var missing = accepted.Where(token => !stored.Contains(token, StringComparison.Ordinal)).ToList();
            output.WriteLine($"accepted before shutdown: {accepted.Count}; missing: {missing.Count}");

            Assert.Equal(0, exitCode);
            Assert.True(finishingReply.Code == 250, finishing.Transcript);
            Assert.True(stalledReply is { Code: >= 400 and < 500 }, stalled.Transcript);
            Assert.True(accepted.Count > 0, "the load clients got no message through before SIGTERM");
            Assert.Empty(missing);
            Assert.True(violations.IsEmpty, string.Join("\n\n", violations));
        }
        finally
        {
            output.WriteLine(server.Output.ToString());
            await server.DisposeAsync();
        }
    }

    // Sends messages until the server closes; the reply to each final dot must be 250 or 4xx, never a silent close.
    private static async Task RunLoadClientAsync(int port, int client, ConcurrentBag<string> accepted, ConcurrentBag<string> violations, CancellationToken stop)
    {
        for (int n = 0; !stop.IsCancellationRequested; n++)
        {
            SmtpLineClient smtp;
            try
            {
                smtp = await SmtpLineClient.ConnectAsync(port);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
            {
                return;
            }

            await using (smtp)
            {
                try
                {
                    var greeting = await smtp.ReadReplyAsync();
                    if (greeting.Code != 220 || (await smtp.CommandAsync("EHLO load.e2e.test")).Code != 250)
                    {
                        return;
                    }

                    for (; !stop.IsCancellationRequested; n++)
                    {
                        string token = $"drain-{client}-{n}-{Guid.NewGuid():N}";
                        if ((await smtp.CommandAsync("MAIL FROM:<sender@example.org>")).Code != 250 ||
                            (await smtp.CommandAsync("RCPT TO:<alice@example.com>")).Code != 250 ||
                            (await smtp.CommandAsync("DATA")).Code != 354)
                        {
                            return;
                        }

                        await smtp.SendDataAsync(Encoding.ASCII.GetBytes($"Subject: {token}\r\n\r\n{token}\r\n"));
                        SmtpReply reply;
                        try
                        {
                            reply = await smtp.ReadReplyAsync();
                        }
                        catch (IOException)
                        {
                            violations.Add("connection closed after the data without a reply:\n" + smtp.Transcript);
                            return;
                        }

                        if (reply.Code == 250)
                        {
                            accepted.Add(token);
                        }
                        else if (reply.Code is < 400 or >= 500)
                        {
                            violations.Add($"unexpected reply {reply} after the data:\n{smtp.Transcript}");
                            return;
                        }
                    }
                }
                catch (IOException)
                {
                    // Closed between transactions, after a 421 or before the next command: allowed.
                    return;
                }
            }
        }
    }

    private static async Task<SmtpLineClient> OpenDataAsync(int port, string name)
    {
        var smtp = await SmtpLineClient.ConnectAsync(port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync($"EHLO {name}.e2e.test");
        await smtp.CommandAsync("MAIL FROM:<sender@example.org>");
        await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        await smtp.CommandAsync("DATA");
        await smtp.SendLineAsync($"Subject: {name}");
        await smtp.SendLineAsync("");
        await smtp.SendLineAsync("first part");
        return smtp;
    }

    private static async Task<SmtpReply?> ReadReplyOrNullAsync(SmtpLineClient smtp)
    {
        try
        {
            return await smtp.ReadReplyAsync();
        }
        catch (IOException)
        {
            return null;
        }
    }
}

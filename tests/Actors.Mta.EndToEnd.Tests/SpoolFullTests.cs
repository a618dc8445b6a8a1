using System.Diagnostics;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// A spool on a file system too small for the message: the client gets 452 after its data, the message is not
/// accepted, and the session goes on. The spool is a 256 KB tmpfs mounted by the test, which needs root (as CI is).
/// </summary>
public sealed class SpoolFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FullSpool_RejectsMessageWith452()
    {
        var root = Directory.CreateTempSubdirectory("actors-mta-full-spool-").FullName;
        string spool = Path.Combine(root, "spool");
        Directory.CreateDirectory(spool);
        Run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", spool);
        try
        {
            var sink = Directory.CreateTempSubdirectory("actors-mta-full-sink-").FullName;
            await using var server = await ServerProcess.StartAsync("dev-sink:" + sink,
                "actors-mta.verification.enabled = off",
                $"actors-mta.spool-directory = \"{spool}\"");
            try
            {
                await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
                await smtp.ReadReplyAsync();
                await smtp.CommandAsync("EHLO full.e2e.test");

                var large = await SendAsync(smtp, "large", new string('x', 998), lines: 1024);
                var small = await SendAsync(smtp, "small", "a short body", lines: 1);
                var files = Directory.EnumerateFiles(sink, "*.eml", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();

                Assert.True(large.Code == 452, smtp.Transcript);
                Assert.True(small.Code == 250, smtp.Transcript);
                Assert.Single(files);
                Assert.Contains("Subject: small", files[0]);
            }
            finally
            {
                output.WriteLine(server.Output.ToString());
            }
        }
        finally
        {
            Run("umount", spool);
        }
    }

    private static async Task<SmtpReply> SendAsync(SmtpLineClient smtp, string subject, string line, int lines)
    {
        await smtp.CommandAsync("MAIL FROM:<sender@example.org>");
        await smtp.CommandAsync("RCPT TO:<alice@example.com>");
        await smtp.CommandAsync("DATA");
        var message = new StringBuilder($"Subject: {subject}\r\n\r\n");
        for (int i = 0; i < lines; i++)
        {
            message.Append(line).Append("\r\n");
        }

        await smtp.SendDataAsync(Encoding.ASCII.GetBytes(message.ToString()));
        return await smtp.ReadReplyAsync();
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {error}");
    }
}

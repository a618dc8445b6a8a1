using System.Text;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// Drives sessions with random and mutated command lines, pipelined in batches. Every reply line must be an
/// SMTP reply (three digits from 200 to 599, then a space or a hyphen), no session may fail with an internal
/// error, and memory must stay flat from the end of the first session to the end of the last. Sessions take
/// 10000 lines each, unless one closes earlier. The seed is fixed; ACTORS_MTA_SESSION_FUZZ_LINES sets the
/// number of lines (default 40000).
/// </summary>
public sealed class SessionFuzzTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const int Seed = 5321;
    private const int BatchLines = 100;
    private const int LinesPerSession = 10_000;
    private const long MaxMemoryGrowth = 32 * 1024 * 1024;

    private static readonly Regex ReplyLine = new("^[2-5][0-9][0-9][ -]", RegexOptions.Compiled);

    private static readonly int LineCount =
        int.TryParse(Environment.GetEnvironmentVariable("ACTORS_MTA_SESSION_FUZZ_LINES"), out int lines) && lines > 0 ? lines : 40_000;

    private static readonly byte[][] Seeds = new[]
    {
        "EHLO client.example", "HELO client.example", "MAIL FROM:<sender@example.net>", "MAIL FROM:<> BODY=8BITMIME SIZE=100",
        "MAIL FROM:<josé@example.net> SMTPUTF8", "RCPT TO:<alice@example.com>", "RCPT TO:<bob@example.org>",
        "RCPT TO:<victim@elsewhere.example>", "RCPT TO:<@a.example:carol@example.com>", "RCPT TO:<user@[127.0.0.1]>",
        "RCPT TO:<Postmaster>", "DATA", "Subject: fuzz", "..dotted", "RSET", "NOOP", "VRFY alice", "HELP", "EXPN staff",
        "BDAT 10", "BDAT 0 LAST", "STARTTLS", "AUTH PLAIN", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    /// <summary>Answers recipient checks and deliveries at once and keeps nothing, so memory reflects the session alone.</summary>
    private sealed class AcceptingDelivery : ReceiveActor
    {
        public AcceptingDelivery()
        {
            Receive<VerifyRecipient>(verify => Sender.Tell(new RecipientVerified(verify.Recipient, null)));
            Receive<DeliverMessage>(message =>
            {
                message.Data.Delete();
                Sender.Tell(Report(message, new SmtpReply(250, "2.0.0", "Saved")));
            });
        }
    }

    private static byte[] NextLine(Random random)
    {
        int kind = random.Next(100);
        if (kind < 6)
        {
            return ".\r\n"u8.ToArray();
        }

        if (kind < 16)
        {
            var bytes = new byte[random.Next(80)];
            random.NextBytes(bytes);
            return [.. bytes, (byte)'\r', (byte)'\n'];
        }

        if (kind < 18)
        {
            return Encoding.ASCII.GetBytes("NOOP " + new string('x', random.Next(400, 3000)) + "\r\n");
        }

        byte[] line = kind < 60 ? Seeds[random.Next(Seeds.Length)] : Mutate(random, Seeds[random.Next(Seeds.Length)]);
        return random.Next(20) == 0 ? [.. line, (byte)'\n'] : [.. line, (byte)'\r', (byte)'\n'];
    }

    // Bytes that matter to the command grammar: line endings, NUL, brackets, quoting, and UTF-8 lead bytes.
    private static readonly byte[] Interesting = "\r\n\0.<>@\":, =%[]"u8.ToArray().Concat(new byte[] { 0x80, 0xC3, 0xFF }).ToArray();

    /// <summary>Applies one to three random edits: replace, insert or delete a byte, or cut the line short.</summary>
    private static byte[] Mutate(Random random, byte[] seed)
    {
        var bytes = new List<byte>(seed);
        for (int edit = 1 + random.Next(3); edit > 0; edit--)
        {
            int position = random.Next(bytes.Count + 1);
            byte value = random.Next(2) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
            switch (random.Next(4))
            {
                case 0 when position < bytes.Count:
                    bytes[position] = value;
                    break;
                case 1:
                    bytes.Insert(position, value);
                    break;
                case 2 when position < bytes.Count:
                    bytes.RemoveAt(position);
                    break;
                default:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
            }
        }

        return bytes.ToArray();
    }

    [Fact]
    public async Task RandomLines_EveryReplyIsWellFormed()
    {
        var random = new Random(Seed);
        var delivery = Sys.ActorOf(Props.Create(() => new AcceptingDelivery()));
        var settings = SessionSettings("""
            limits.max-errors-per-session = 1000000
            limits.max-commands-per-session = 100000000
            limits.max-transactions-per-session = 1000000
            limits.max-message-size = 100000
            """);
        int sent = 0;
        int sessions = 0;
        long replies = 0;
        long memoryAfterFirstSession = 0;

        while (sent < LineCount)
        {
            var transport = StartSession(settings, delivery);
            transport.Client.KeepLines = false;
            sessions++;
            var reader = Task.Run(async () => await CheckRepliesAsync(transport));

            int sessionEnd = Math.Min(LineCount, sent + LinesPerSession);
            while (sent < sessionEnd && !transport.Closed.IsCompleted)
            {
                var batch = new List<byte>();
                for (int i = 0; i < BatchLines; i++)
                {
                    batch.AddRange(NextLine(random));
                }

                await transport.SendAsync(batch.ToArray());
                sent += BatchLines;
            }

            transport.CompleteClientOutput();
            replies += await reader;
            if (sessions == 1)
            {
                memoryAfterFirstSession = GC.GetTotalMemory(forceFullCollection: true);
            }
        }

        long growth = GC.GetTotalMemory(forceFullCollection: true) - memoryAfterFirstSession;
        output.WriteLine($"{sent} lines in {sessions} session(s), {replies} reply lines, memory growth after the first session {growth / 1024} KiB");
        Assert.True(replies > sent / 2, $"only {replies} reply lines for {sent} lines sent");
        Assert.True(growth < MaxMemoryGrowth, $"memory grew by {growth / 1024} KiB over {sessions} sessions");
    }

    [Fact]
    public async Task EmptyChunkThenReset_NextChunkIsRejected()
    {
        // Found by the random run: the Received header buffered by "BDAT 0" outlived the RSET that discarded its file.
        var transport = StartSession(SessionSettings(), CreateDeliveryProbe());
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\n" +
            "BDAT 0\r\nRSET\r\nBDAT 10\r\n0123456789NOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(7);

        Assert.StartsWith("250 2.0.0", replies[4]);
        Assert.StartsWith("503 5.5.1", replies[5]);
        Assert.StartsWith("250 2.0.0", replies[6]);
    }

    private static async Task<long> CheckRepliesAsync(PipeTransport transport)
    {
        long count = 0;
        while (await transport.Client.ReadLineAsync() is { } line)
        {
            Assert.True(ReplyLine.IsMatch(line), $"malformed reply line: {line}");
            Assert.False(line.StartsWith("421 4.3.0", StringComparison.Ordinal), $"session failed: {line}");
            count++;
        }

        return count;
    }
}

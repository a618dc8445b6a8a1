using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// BDAT (RFC 3030) over a raw socket, since Python's smtplib and swaks cannot send it: chunks split anywhere,
/// BINARYMIME text, and BINARYMIME content that LMTP DATA cannot carry, each checked against what Dovecot stored.
/// </summary>
public sealed class ChunkingTests : EndToEndTest
{
    private const string Sender = "chunks@example.net";

    public ChunkingTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    private static byte[] Chunks(byte[] message, params int[] splits)
    {
        var wire = new List<byte>();
        int start = 0;
        foreach (int end in splits.Append(message.Length))
        {
            bool last = end == message.Length;
            wire.AddRange(Encoding.ASCII.GetBytes($"BDAT {end - start}{(last ? " LAST" : "")}\r\n"));
            wire.AddRange(message[start..end]);
            start = end;
        }

        return wire.ToArray();
    }

    private async Task<(SmtpReply Final, SmtpLineClient Smtp)> SendChunkedAsync(int port, string mailParameters, byte[] message, params int[] splits)
    {
        var smtp = await SmtpLineClient.ConnectAsync(port);
        await smtp.ReadReplyAsync();
        var ehlo = await smtp.CommandAsync("EHLO chunks.e2e.test");
        Assert.Contains("CHUNKING", ehlo.Lines);
        Assert.Contains("BINARYMIME", ehlo.Lines);
        var mail = await smtp.CommandAsync($"MAIL FROM:<{Sender}>{mailParameters}");
        var rcpt = await smtp.CommandAsync("RCPT TO:<carol@example.org>");
        Assert.True(mail.Code == 250, smtp.Transcript);
        Assert.True(rcpt.Code == 250, smtp.Transcript);

        // Every chunk goes in one write, as a pipelining client sends them; a reply comes for each.
        await smtp.SendRawAsync(Chunks(message, splits), $"<{splits.Length + 1} BDAT chunks, {message.Length} octets>");
        SmtpReply final = null!;
        for (int i = 0; i <= splits.Length; i++)
        {
            final = await smtp.ReadReplyAsync();
            Assert.True(i == splits.Length || final.Code == 250, smtp.Transcript);
        }

        await smtp.CommandAsync("QUIT");
        Output.WriteLine(smtp.Transcript);
        return (final, smtp);
    }

    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public async Task Bdat_DeliversCorpusMessageUnchanged(string name)
    {
        var message = MessageCorpus.Get(name).Content;
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        // Splits inside the first line, between CR and LF of some line, and one octet before the end.
        int crlf = Array.IndexOf(message, (byte)'\n');
        var (final, smtp) = await SendChunkedAsync(server.Port, " BODY=8BITMIME", message, 1, crlf, message.Length - 1);
        await using var _ = smtp;

        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "carol@example.org", message, Sender);
    }

    [Fact]
    public async Task Bdat_BinaryMimeTextDeliveredUnchanged()
    {
        byte[] message = [.. "Subject: binary text\r\nContent-Transfer-Encoding: binary\r\n\r\n"u8, 0xC3, 0xA9, 0xFF, .. "\r\n.\r\n..\r\nend\r\n"u8];
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var (final, smtp) = await SendChunkedAsync(server.Port, " BODY=BINARYMIME", message, 10);
        await using var _ = smtp;

        Assert.True(final.Code == 250, smtp.Transcript);
        AssertDeliveredExactly(mark, "carol@example.org", message, Sender);
    }

    [Fact]
    public async Task Bdat_BinaryMimeWithNulNotDelivered()
    {
        byte[] message = [.. "Subject: binary\r\nContent-Transfer-Encoding: binary\r\n\r\n"u8, 0, 1, 2, (byte)'\n', 0xFF, .. "\r\n"u8];
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var (final, smtp) = await SendChunkedAsync(server.Port, " BODY=BINARYMIME", message, 5);
        await using var _ = smtp;

        Assert.True(final.Code == 550, smtp.Transcript);
        Assert.Contains("5.6.1", final.Text);
        Assert.Empty(mark.NewMessages(Dovecot, "carol@example.org"));
    }

    [Fact]
    public async Task Data_AfterBinaryMimeIs503()
    {
        var server = await ServerAsync();
        await using var smtp = await SmtpLineClient.ConnectAsync(server.Port);
        await smtp.ReadReplyAsync();
        await smtp.CommandAsync("EHLO chunks.e2e.test");
        await smtp.CommandAsync($"MAIL FROM:<{Sender}> BODY=BINARYMIME");
        await smtp.CommandAsync("RCPT TO:<carol@example.org>");

        var data = await smtp.CommandAsync("DATA");

        Assert.True(data.Code == 503, smtp.Transcript);
    }
}

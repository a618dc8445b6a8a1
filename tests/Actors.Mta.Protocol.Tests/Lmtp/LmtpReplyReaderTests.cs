using System.IO.Pipelines;
using System.Text;
using Actors.Mta.Protocol.Lmtp;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Lmtp;

public sealed class LmtpReplyReaderTests
{
    [Fact]
    public async Task Read_SingleLineWithEnhancedCode()
    {
        SmtpReply reply = await ReadOneAsync("250 2.1.5 Recipient OK\r\n");

        Assert.Equal(250, reply.Code);
        Assert.Equal("2.1.5", reply.EnhancedCode);
        Assert.Equal(["Recipient OK"], reply.Lines);
    }

    [Fact]
    public async Task Read_MultilineStripsEnhancedCodes()
    {
        SmtpReply reply = await ReadOneAsync("452-4.2.2 Mailbox full\r\n452-4.2.2 \r\n452 4.2.2 Try later\r\n");

        Assert.Equal(452, reply.Code);
        Assert.Equal("4.2.2", reply.EnhancedCode);
        Assert.Equal(["Mailbox full", "", "Try later"], reply.Lines);
    }

    [Fact]
    public async Task Read_MultilineWithoutEnhancedCodes()
    {
        SmtpReply reply = await ReadOneAsync("250-dovecot.test\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n");

        Assert.Null(reply.EnhancedCode);
        Assert.Equal(["dovecot.test", "8BITMIME", "ENHANCEDSTATUSCODES", "PIPELINING"], reply.Lines);
    }

    [Fact]
    public async Task Read_CodeWithoutText()
    {
        SmtpReply reply = await ReadOneAsync("250\r\n");

        Assert.Equal(250, reply.Code);
        Assert.Equal([""], reply.Lines);
    }

    [Fact]
    public async Task Read_EnhancedCodeWithoutText()
    {
        SmtpReply reply = await ReadOneAsync("550 5.1.1\r\n");

        Assert.Equal("5.1.1", reply.EnhancedCode);
        Assert.Equal([""], reply.Lines);
    }

    [Fact]
    public async Task Read_BareLineFeedAccepted()
    {
        SmtpReply reply = await ReadOneAsync("220 ready\n");

        Assert.Equal(220, reply.Code);
        Assert.Equal(["ready"], reply.Lines);
    }

    [Fact]
    public async Task Read_Utf8TextDecoded()
    {
        SmtpReply reply = await ReadOneAsync("550 5.1.1 Unbekannter Empfänger\r\n");

        Assert.Equal(["Unbekannter Empfänger"], reply.Lines);
    }

    [Fact]
    public async Task Read_ConsecutiveReplies()
    {
        LmtpReplyReader reader = CreateReader("250 2.1.0 OK\r\n550 5.1.1 No such user\r\n354 Go\r\n");

        SmtpReply first = await reader.ReadAsync(CancellationToken.None);
        SmtpReply second = await reader.ReadAsync(CancellationToken.None);
        SmtpReply third = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(250, first.Code);
        Assert.Equal(550, second.Code);
        Assert.Equal(354, third.Code);
    }

    [Theory]
    [InlineData("2.1.5 OK", "2.1.5")]
    [InlineData("5.7.1", "5.7.1")]
    [InlineData("4.123.456 Later", "4.123.456")]
    [InlineData("2.1.5x OK", null)]
    [InlineData("3.1.5 OK", null)]
    [InlineData("2.1 OK", null)]
    [InlineData("2..5 OK", null)]
    [InlineData("2.1234.5 OK", null)]
    [InlineData("2.1.5678 OK", null)]
    [InlineData("8BITMIME", null)]
    [InlineData("", null)]
    public void FindEnhancedCode_Cases(string text, string? expected)
    {
        Assert.Equal(expected, LmtpReplyReader.FindEnhancedCode(text));
    }

    [Theory]
    [InlineData("hello\r\n")]
    [InlineData("25\r\n")]
    [InlineData("2x0 OK\r\n")]
    [InlineData("250OK\r\n")]
    [InlineData("150 Continue\r\n")]
    [InlineData("650 Strange\r\n")]
    [InlineData("\r\n")]
    [InlineData(" 250 OK\r\n")]
    public async Task Read_MalformedLineThrows(string text)
    {
        await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync(text));
    }

    [Fact]
    public async Task Read_CodeChangeThrows()
    {
        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync("250-first\r\n251 second\r\n"));

        Assert.Contains("changed from 250 to 251", exception.Message);
    }

    [Fact]
    public async Task Read_LineAtLimitAccepted()
    {
        string line = "250 " + new string('x', LmtpReplyReader.MaxLineOctets - 4);

        SmtpReply reply = await ReadOneAsync(line + "\r\n");

        Assert.Equal(LmtpReplyReader.MaxLineOctets - 4, reply.Lines[0].Length);
    }

    [Fact]
    public async Task Read_LineOverLimitThrows()
    {
        string line = "250 " + new string('x', LmtpReplyReader.MaxLineOctets - 3);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync(line + "\r\n"));

        Assert.Contains("longer than 8192 octets", exception.Message);
    }

    [Fact]
    public async Task Read_EndlessLineThrows()
    {
        // No line feed at all: the reader must give up instead of buffering the whole input.
        string line = "250 " + new string('x', 1_000_000);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync(line));

        Assert.Contains("longer than 8192 octets", exception.Message);
    }

    [Fact]
    public async Task Read_MaxLinesAccepted()
    {
        string text = string.Concat(Enumerable.Repeat("250-line\r\n", LmtpReplyReader.MaxLines - 1)) + "250 last\r\n";

        SmtpReply reply = await ReadOneAsync(text);

        Assert.Equal(LmtpReplyReader.MaxLines, reply.Lines.Count);
    }

    [Fact]
    public async Task Read_TooManyLinesThrows()
    {
        string text = string.Concat(Enumerable.Repeat("250-line\r\n", LmtpReplyReader.MaxLines)) + "250 last\r\n";

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync(text));

        Assert.Contains("more than 100 lines", exception.Message);
    }

    [Fact]
    public async Task Read_ClosedBeforeReplyThrows()
    {
        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync(""));

        Assert.Contains("before replying", exception.Message);
    }

    [Fact]
    public async Task Read_ClosedBetweenLinesThrows()
    {
        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync("250-first\r\n"));

        Assert.Contains("in the middle of a reply", exception.Message);
    }

    [Fact]
    public async Task Read_ClosedInsideLineThrows()
    {
        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ReadOneAsync("250 no line end"));

        Assert.Contains("in the middle of a reply line", exception.Message);
    }

    [Fact]
    public async Task Read_CanceledThrows()
    {
        var pipe = new Pipe();
        var reader = new LmtpReplyReader(pipe.Reader);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader.ReadAsync(cancellation.Token));
    }

    [Fact]
    public async Task Read_ReplySplitAcrossWrites()
    {
        var pipe = new Pipe();
        var reader = new LmtpReplyReader(pipe.Reader);
        Task<SmtpReply> read = reader.ReadAsync(CancellationToken.None);

        foreach (string part in new[] { "25", "0-2.0", ".0 a\r", "\n250 2.0.0 b", "\r\n" })
        {
            await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes(part));
        }

        SmtpReply reply = await read;
        Assert.Equal(["a", "b"], reply.Lines);
    }

    private static LmtpReplyReader CreateReader(string text) =>
        new(PipeReader.Create(new MemoryStream(Encoding.UTF8.GetBytes(text))));

    private static Task<SmtpReply> ReadOneAsync(string text) => CreateReader(text).ReadAsync(CancellationToken.None);
}

using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>DATA transcripts: the stored message, the end of the data, smuggling attempts, size limits and delivery outcomes.</summary>
public sealed class SessionDataTests(ITestOutputHelper output) : MtaTestKit(output)
{
    // Each variant ends a line with something other than CRLF around a lone dot, the pattern of the 2023
    // SMTP smuggling attacks, followed by a second transaction that must stay message content.
    public static readonly TheoryData<string> SmugglingEndings = new()
    {
        "\n.\n",
        "\r.\r",
        "\n.\r\n",
        "\r\n.\n",
        "\r.\r\n",
    };

    private const string SmuggledCommands =
        "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSmuggled\r\n";

    private async Task<(TranscriptClient Client, TestProbe Delivery)> OpenDataAsync(string overrides = "", params string[] recipients)
    {
        var delivery = CreateDeliveryProbe();
        var transport = StartSession(SessionSettings(overrides), delivery);
        var client = transport.Client;
        await client.ReadReplyAsync();
        if (recipients.Length == 0)
        {
            recipients = ["alice@example.com"];
        }

        var commands = new StringBuilder("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\n");
        foreach (string recipient in recipients)
        {
            commands.Append($"RCPT TO:<{recipient}>\r\n");
        }

        commands.Append("DATA\r\n");
        await client.SendAsync(commands.ToString());
        var replies = await client.ReadRepliesAsync(3 + recipients.Length);
        Assert.StartsWith("354 ", replies[^1]);
        return (client, delivery);
    }

    [Fact]
    public async Task Data_SendsEnvelopeToDelivery()
    {
        var (client, delivery) = await OpenDataAsync("", "alice@example.com", "bob@example.org");

        await client.SendAsync("Subject: test\r\n\r\nHello\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("sender@example.net", message.Envelope.SenderText);
        Assert.Equal(["alice@example.com", "bob@example.org"], message.Envelope.Recipients.Select(r => r.Address));
        Assert.Equal("Subject: test\r\n\r\nHello\r\n".Length, message.Size);
    }

    [Fact]
    public async Task Data_SpoolFileHasReceivedAndBody()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: test\r\n\r\nHello\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        var (received, body) = ReadSpool(message);

        Assert.StartsWith("Received: from client.example ([127.0.0.1])\r\n\tby mx.test (Actors.Mta) with ESMTP id " + message.QueueId, received);
        Assert.Contains("\r\n\tfor <alice@example.com>; ", received);
        Assert.Equal("Subject: test\r\n\r\nHello\r\n", body);
    }

    [Fact]
    public async Task Data_ReceivedOmitsForWithTwoRecipients()
    {
        var (client, delivery) = await OpenDataAsync("", "alice@example.com", "bob@example.com");

        await client.SendAsync("Subject: test\r\n\r\nHello\r\n.\r\n");
        var (received, _) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.DoesNotContain("for <", received);
    }

    [Fact]
    public async Task Data_RemovesDotStuffing()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: dots\r\n\r\n..leading\r\n...two\r\n..\r\nend.\r\n .\r\n.x\r\n.\r\n");
        var (_, body) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.Equal("Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nend.\r\n .\r\nx\r\n", body);
    }

    [Fact]
    public async Task Data_SmallMessageStaysInMemory()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: small\r\n\r\nHello\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.True(message.Data.InMemory);
        Assert.Empty(Directory.GetFiles(Path.Combine(SpoolDirectory, "incoming")));
        Assert.Equal("Subject: small\r\n\r\nHello\r\n", ReadSpool(message).Body);
    }

    [Fact]
    public async Task Data_LargerThanMemoryLimitGoesToFile()
    {
        var (client, delivery) = await OpenDataAsync("limits.memory-message-size = 4096");
        string body = string.Concat(Enumerable.Repeat(new string('x', 98) + "\r\n", 100));

        await client.SendAsync("Subject: large\r\n\r\n" + body + ".\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.False(message.Data.InMemory);
        Assert.StartsWith(Path.Combine(SpoolDirectory, "incoming"), message.Data.File);
        Assert.Equal("Subject: large\r\n\r\n" + body, ReadSpool(message).Body);
    }

    [Fact]
    public async Task Data_MemoryLimitZeroUsesFile()
    {
        var (client, delivery) = await OpenDataAsync("limits.memory-message-size = 0");

        await client.SendAsync("Subject: small\r\n\r\nHello\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.False(message.Data.InMemory);
        Assert.Equal("Subject: small\r\n\r\nHello\r\n", ReadSpool(message).Body);
    }

    [Fact]
    public async Task Data_EmptyMessageIsAccepted()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync(".\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("", ReadSpool(message).Body);
        Assert.Equal(0, message.Size);
    }

    [Fact]
    public async Task Data_KeepsEightBitBytes()
    {
        var (client, delivery) = await OpenDataAsync();
        byte[] data = [.. "Subject: 8bit\r\n\r\n"u8, 0xC3, 0xA9, 0xFF, 0x80, .. "\r\n.\r\n"u8];

        await client.SendAsync(data);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        byte[] stored = message.Data.ReadAllBytes();

        Assert.EndsWith("Subject: 8bit\r\n\r\n\u00C3\u00A9\u00FF\u0080\r\n", Encoding.Latin1.GetString(stored));
    }

    [Fact]
    public async Task Data_RepliesAfterDelivery()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: test\r\n\r\nHello\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(message, new SmtpReply(250, "2.0.0", "Saved")));
        var reply = await client.ReadReplyAsync();

        Assert.Equal($"250 2.0.0 Ok: delivered as {message.QueueId}", reply[^1]);
    }

    [Fact]
    public async Task Data_SecondTransactionOnSameSession()
    {
        var (client, delivery) = await OpenDataAsync();
        await client.SendAsync("Subject: one\r\n\r\n.\r\n");
        var first = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(first, new SmtpReply(250, "2.0.0", "Saved")));
        await client.ReadReplyAsync();

        await client.SendAsync("MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n");
        var second = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(second, new SmtpReply(250, "2.0.0", "Saved")));
        var replies = await client.ReadRepliesAsync(4);

        Assert.Equal(["250", "250", "354", "250"], replies.Select(r => r[..3]));
        Assert.Null(second.Envelope.ReversePath);
        Assert.Equal("Subject: two\r\n\r\n", ReadSpool(second).Body);
    }

    [Theory]
    [MemberData(nameof(SmugglingEndings))]
    public async Task Data_SmugglingIsRejectedAfterRealEnd(string ending)
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: test\r\n\r\nbody" + ending + SmuggledCommands + ".\r\nQUIT\r\n");
        var replies = await client.ReadToEndAsync();

        Assert.Equal(2, replies.Count);
        Assert.StartsWith("550 5.6.0", replies[0]);
        Assert.StartsWith("221 2.0.0", replies[1]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Theory]
    [MemberData(nameof(SmugglingEndings))]
    public async Task Data_SmugglingIsContentWhenNormalized(string ending)
    {
        var (client, delivery) = await OpenDataAsync("smtp.bare-line-endings = normalize");

        await client.SendAsync("Subject: test\r\n\r\nbody" + ending + SmuggledCommands + ".\r\nQUIT\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(message, new SmtpReply(250, "2.0.0", "Saved")));
        var replies = await client.ReadToEndAsync();

        Assert.Equal(2, replies.Count);
        Assert.StartsWith("250 2.0.0", replies[0]);
        Assert.StartsWith("221 2.0.0", replies[1]);
        Assert.Contains("\r\nMAIL FROM:<evil@example.net>\r\n", ReadSpool(message).Body);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Data_NormalizeStoresCrlf()
    {
        var (client, delivery) = await OpenDataAsync("smtp.bare-line-endings = normalize");

        await client.SendAsync("Subject: test\n\nline one\rline two\r\n.\r\n");
        var (_, body) = ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait));

        Assert.Equal("Subject: test\r\n\r\nline one\r\nline two\r\n", body);
    }

    [Theory]
    [InlineData("Subject: test\r\n\r\nbare\nLF\r\n.\r\n")]
    [InlineData("Subject: test\r\n\r\nbare\rCR\r\n.\r\n")]
    [InlineData("Subject: test\r\n\r\nNUL\0byte\r\n.\r\n")]
    public async Task Data_InvalidLineIs550AndSessionContinues(string data)
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync(data + "NOOP\r\n");
        var replies = await client.ReadRepliesAsync(2);

        Assert.StartsWith("550 5.6.0", replies[0]);
        Assert.StartsWith("250 2.0.0", replies[1]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Data_AtMaxSizeIsAccepted()
    {
        var (client, delivery) = await OpenDataAsync("limits.max-message-size = 1024");
        string body = new string('a', 1022) + "\r\n";

        await client.SendAsync(body + ".\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal(1024, message.Size);
    }

    [Fact]
    public async Task Data_OverMaxSizeIs552AfterEnd()
    {
        var (client, delivery) = await OpenDataAsync("limits.max-message-size = 1024");
        var data = new StringBuilder();
        for (int i = 0; i < 40; i++)
        {
            data.Append(new string('a', 48)).Append("\r\n");
        }

        await client.SendAsync(data.ToString());
        await client.SendAsync(".\r\nMAIL FROM:<sender@example.net>\r\nNOOP\r\n");
        var replies = await client.ReadRepliesAsync(3);

        Assert.StartsWith("552 5.3.4", replies[0]);
        Assert.StartsWith("250 2.1.0", replies[1]);
        Assert.StartsWith("250 2.0.0", replies[2]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Data_RejectedMessageLeavesNoSpoolFile()
    {
        var (client, _) = await OpenDataAsync();

        await client.SendAsync("bare\nLF\r\n.\r\nQUIT\r\n");
        await client.ReadToEndAsync();

        await AwaitAssertAsync(() => Assert.Empty(Directory.GetFiles(Path.Combine(SpoolDirectory, "incoming"))), Wait);
    }

    // Delivery codes per recipient, whether the queue took the message, and the reply the client gets.
    public static readonly TheoryData<int[], bool, string> Outcomes = new()
    {
        { new[] { 250, 250 }, false, "250 2.0.0 Ok: delivered as " },
        { new[] { 250, 451 }, true, "250 2.0.0 Ok: queued as " },
        { new[] { 451, 451 }, true, "250 2.0.0 Ok: queued as " },
        { new[] { 250, 451 }, false, "451 4.3.0" },
        { new[] { 451, 550 }, false, "451 4.3.0" },
        { new[] { 550, 552 }, false, "550 5.1.1" },
        { new[] { 250, 550 }, false, "250 2.0.0 Ok: delivered as " },
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public async Task Data_ReplyFollowsDeliveryReport(int[] codes, bool queued, string expected)
    {
        var (client, delivery) = await OpenDataAsync("", "alice@example.com", "bob@example.com");

        await client.SendAsync("Subject: test\r\n\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        var replies = codes.Select(code => new SmtpReply(code, code switch
        {
            < 300 => "2.0.0",
            < 500 => "4.2.0",
            550 => "5.1.1",
            _ => "5.2.2",
        }, "Scripted")).ToArray();
        delivery.Reply(Report(message, replies) with { Queued = queued });
        var reply = await client.ReadReplyAsync();

        Assert.StartsWith(expected, reply[^1]);
    }

    [Fact]
    public async Task Data_IgnoresReportForOtherMessage()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: test\r\n\r\n.\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(message with { QueueId = "OTHER" }, new SmtpReply(550, "5.0.0", "Wrong message")));
        delivery.Reply(Report(message, new SmtpReply(250, "2.0.0", "Saved")));
        var reply = await client.ReadReplyAsync();

        Assert.StartsWith("250 2.0.0", reply[^1]);
    }

    [Fact]
    public async Task Pipelining_WholeTransactionInTwoWrites()
    {
        var delivery = CreateDeliveryProbe();
        var transport = StartSession(SessionSettings(), delivery);
        var client = transport.Client;
        await client.ReadReplyAsync();

        await client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\n" +
            "RCPT TO:<bob@example.org>\r\nDATA\r\n");
        var commandReplies = await client.ReadRepliesAsync(5);
        await client.SendAsync("Subject: pipelined\r\n\r\n..dot\r\n.\r\nQUIT\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(message, new SmtpReply(250, "2.0.0", "Saved")));
        var finalReplies = await client.ReadToEndAsync();

        Assert.Equal(["250", "250", "250", "250", "354"], commandReplies.Select(r => r[..3]));
        Assert.Equal(2, finalReplies.Count);
        Assert.StartsWith("250 2.0.0", finalReplies[0]);
        Assert.StartsWith("221 2.0.0", finalReplies[1]);
        Assert.Equal("Subject: pipelined\r\n\r\n.dot\r\n", ReadSpool(message).Body);
    }

    [Fact]
    public async Task Pipelining_CommandsAfterDataWaitForDelivery()
    {
        var (client, delivery) = await OpenDataAsync();

        await client.SendAsync("Subject: test\r\n\r\n.\r\nMAIL FROM:<next@example.net>\r\nRCPT TO:<bob@example.org>\r\nNOOP\r\n");
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        delivery.Reply(Report(message, new SmtpReply(451, "4.2.0", "Busy")));
        var replies = await client.ReadRepliesAsync(4);

        Assert.Equal(["451", "250", "250", "250"], replies.Select(r => r[..3]));
    }
}

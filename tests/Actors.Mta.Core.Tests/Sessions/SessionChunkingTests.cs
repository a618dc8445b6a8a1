using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// CHUNKING and BINARYMIME (RFC 3030) transcripts: chunks at every split, zero-length chunks, the size limit,
/// sequence errors with their octets read and discarded, BDAT mixed with DATA, and binary content kept byte for byte.
/// </summary>
public sealed class SessionChunkingTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const string Envelope = "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\n";

    private static readonly byte[] Message = Encoding.ASCII.GetBytes("Subject: chunks\r\n\r\n..not unstuffed\r\n.\r\nend\r\n");

    public static TheoryData<int> MessageSplits => new(Enumerable.Range(0, Message.Length + 1));

    private (PipeTransport Transport, TestProbe Delivery) Open(string overrides = "")
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        return (StartSession(SessionSettings(overrides), delivery), delivery);
    }

    private static byte[] Bytes(params object[] parts)
    {
        var bytes = new List<byte>();
        foreach (object part in parts)
        {
            bytes.AddRange(part is string text ? Encoding.ASCII.GetBytes(text) : (byte[])part);
        }

        return bytes.ToArray();
    }

    private static byte[] Chunk(byte[] content, bool last = false) =>
        Bytes($"BDAT {content.Length}{(last ? " LAST" : "")}\r\n", content);

    // The Received header is ASCII, so its length in characters is its length in octets.
    private static byte[] StoredBody(DeliverMessage message) =>
        message.Data.ReadAllBytes()[ReadSpool(message).Received.Length..];

    private static async Task<List<string>> FinalRepliesAsync(TranscriptClient client, int count)
    {
        var replies = await client.ReadRepliesAsync(count);
        return MaskQueueIds(replies).ToList();
    }

    [Fact]
    public async Task Ehlo_AdvertisesChunkingAndBinaryMime()
    {
        var (transport, _) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\n");
        var reply = await transport.Client.ReadReplyAsync();

        Assert.Contains("250-CHUNKING", reply);
        Assert.Contains("250-BINARYMIME", reply);
    }

    [Theory]
    [MemberData(nameof(MessageSplits))]
    public async Task Bdat_TwoChunksAtEverySplit(int split)
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(Message[..split]), Chunk(Message[split..], last: true), "QUIT\r\n"));
        var replies = MaskQueueIds(await transport.Client.ReadToEndAsync()).Where(line => line[3] == ' ').ToList();
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal(["250 2.1.0 Ok", "250 2.1.5 Ok", $"250 2.0.0 Ok: {split} octets received", "250 2.0.0 Ok: delivered as <id>", "221 2.0.0 mx.test Bye"],
            replies.Skip(1));
        Assert.Equal(Message, StoredBody(message));
        Assert.Equal(Message.Length, message.Size);
    }

    [Fact]
    public async Task Bdat_OneByteAtATimeSameMessage()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();
        byte[] input = Bytes(Envelope, Chunk(Message[..7]), Chunk(Message[7..20]), Chunk(Message[20..], last: true), "QUIT\r\n");

        await transport.SendInPiecesAsync(input.Select(b => new[] { b }));
        var replies = MaskQueueIds(await transport.Client.ReadToEndAsync()).Where(line => line[3] == ' ').ToList();
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal(["250 2.0.0 Ok: 7 octets received", "250 2.0.0 Ok: 13 octets received", "250 2.0.0 Ok: delivered as <id>"],
            replies.Skip(3).Take(3));
        Assert.Equal(Message, StoredBody(message));
    }

    [Fact]
    public async Task Bdat_ZeroLengthLastChunkEndsMessage()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(Message), "BDAT 0 LAST\r\n"));
        var replies = await FinalRepliesAsync(transport.Client, 5);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal($"250 2.0.0 Ok: {Message.Length} octets received", replies[3]);
        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[4]);
        Assert.Equal(Message, StoredBody(message));
    }

    [Fact]
    public async Task Bdat_EmptyMessageAccepted()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Envelope + "BDAT 0 LAST\r\n");
        var replies = await FinalRepliesAsync(transport.Client, 4);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[3]);
        Assert.StartsWith("Received: from client.example", ReadSpool(message).Received);
        Assert.Empty(StoredBody(message));
        Assert.Equal(0, message.Size);
    }

    [Fact]
    public async Task Bdat_ZeroLengthMiddleChunkIs250()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, "BDAT 0\r\n", Chunk(Message, last: true)));
        var replies = await FinalRepliesAsync(transport.Client, 5);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("250 2.0.0 Ok: 0 octets received", replies[3]);
        Assert.Equal(Message, StoredBody(message));
    }

    [Fact]
    public async Task Bdat_WithoutMailIs503AndDiscardsOctets()
    {
        var (transport, _) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(3);

        Assert.Equal("503 5.5.1 Need MAIL before BDAT", replies[1]);
        Assert.Equal("250 2.0.0 Ok", replies[2]);
    }

    [Fact]
    public async Task Bdat_WithoutRcptIs503AndDiscardsOctets()
    {
        var (transport, _) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(4);

        Assert.Equal("503 5.5.1 Need RCPT before BDAT", replies[2]);
        Assert.Equal("250 2.0.0 Ok", replies[3]);
    }

    [Fact]
    public async Task Data_AfterBdatIs503()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(Message[..5]), "DATA\r\n"));
        var replies = await transport.Client.ReadRepliesAsync(5);

        Assert.Equal("503 5.5.1 DATA is not allowed after BDAT in the same transaction", replies[4]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bdat_AfterRejectedDataStillWorks()
    {
        // DATA before any RCPT is rejected without opening the message, so BDAT may follow in the same transaction.
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes("EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nDATA\r\n",
            "RCPT TO:<alice@example.com>\r\n", Chunk(Message, last: true)));
        var replies = await FinalRepliesAsync(transport.Client, 5);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("554 5.5.1 No valid recipients", replies[2]);
        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[4]);
        Assert.Equal(Message, StoredBody(message));
    }

    [Fact]
    public async Task Data_AfterBinaryMimeIs503()
    {
        var (transport, _) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@example.net> BODY=BINARYMIME\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(5);

        Assert.Equal("250 2.1.0 Ok", replies[1]);
        Assert.Equal("503 5.5.1 BODY=BINARYMIME requires BDAT", replies[3]);
        Assert.Equal("250 2.0.0 Ok", replies[4]);
    }

    [Fact]
    public async Task Bdat_OverSizeLimitIs552AndResets()
    {
        var (transport, delivery) = Open("limits.max-message-size = 1024");
        await transport.Client.ReadReplyAsync();
        byte[] content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("QUIT\r\n", 200)));

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(content, last: true), "NOOP\r\nRCPT TO:<bob@example.com>\r\n"));
        var replies = await transport.Client.ReadRepliesAsync(6);

        Assert.Equal("552 5.3.4 Message size exceeds fixed maximum message size", replies[3]);
        Assert.Equal("250 2.0.0 Ok", replies[4]);
        Assert.Equal("503 5.5.1 Need MAIL before RCPT", replies[5]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bdat_TotalOverLimitIs552()
    {
        var (transport, _) = Open("limits.max-message-size = 1024");
        await transport.Client.ReadReplyAsync();
        byte[] half = new byte[600];
        Array.Fill(half, (byte)'x');

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(half), Chunk(half, last: true), "NOOP\r\n"));
        var replies = await transport.Client.ReadRepliesAsync(6);

        Assert.Equal("250 2.0.0 Ok: 600 octets received", replies[3]);
        Assert.Equal("552 5.3.4 Message size exceeds fixed maximum message size", replies[4]);
        Assert.Equal("250 2.0.0 Ok", replies[5]);
    }

    [Fact]
    public async Task Bdat_ExactSizeLimitAccepted()
    {
        var (transport, delivery) = Open("limits.max-message-size = 1024");
        await transport.Client.ReadReplyAsync();
        byte[] content = new byte[1024];
        Array.Fill(content, (byte)'x');

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(content, last: true)));
        var replies = await FinalRepliesAsync(transport.Client, 4);

        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[3]);
        Assert.Equal(1024, delivery.ExpectMsg<DeliverMessage>(Wait).Size);
    }

    [Fact]
    public async Task Bdat_ChunksAfterFailureReadAndRejected()
    {
        var (transport, delivery) = Open("limits.max-message-size = 1024");
        await transport.Client.ReadReplyAsync();
        byte[] large = new byte[2000];
        Array.Fill(large, (byte)'x');
        byte[] smuggled = Encoding.ASCII.GetBytes("MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.com>\r\n");

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(large), Chunk(smuggled), Chunk(Message, last: true), "NOOP\r\n"));
        var replies = await transport.Client.ReadRepliesAsync(7);

        Assert.Equal("552 5.3.4 Message size exceeds fixed maximum message size", replies[3]);
        Assert.Equal("503 5.5.1 Need MAIL before BDAT", replies[4]);
        Assert.Equal("503 5.5.1 Need MAIL before BDAT", replies[5]);
        Assert.Equal("250 2.0.0 Ok", replies[6]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Theory]
    [InlineData("BDAT\r\n")]
    [InlineData("BDAT abc\r\n")]
    [InlineData("BDAT -1\r\n")]
    [InlineData("BDAT +5\r\n")]
    [InlineData("BDAT 5 NOTLAST\r\n")]
    [InlineData("BDAT 5 LAST x\r\n")]
    [InlineData("BDAT  5\r\n")]
    [InlineData("BDAT 99999999999999999999\r\n")]
    public async Task Bdat_InvalidSizeIs501(string command)
    {
        var (transport, _) = Open();
        await transport.Client.ReadReplyAsync();
        await transport.Client.SendAsync(Envelope);
        await transport.Client.ReadRepliesAsync(3);

        string reply = await transport.Client.CommandAsync(command);

        Assert.Equal("501 5.5.4 Syntax: BDAT size [LAST]", reply);
    }

    [Fact]
    public async Task Bdat_LowerCaseLastAccepted()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, $"bdat {Message.Length} last\r\n", Message));
        var replies = await FinalRepliesAsync(transport.Client, 4);

        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[3]);
        Assert.Equal(Message, StoredBody(delivery.ExpectMsg<DeliverMessage>(Wait)));
    }

    [Fact]
    public async Task Bdat_BinaryMimeKeepsEveryOctet()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();
        byte[] content = [.. "Subject: binary\r\n\r\n"u8, 0, 1, 0xFF, (byte)'\n', (byte)'.', (byte)'\r', (byte)'\r', (byte)'\n', (byte)'.', (byte)'\n', 0];

        await transport.Client.SendAsync(Bytes("EHLO client.example\r\nMAIL FROM:<sender@example.net> BODY=BINARYMIME\r\nRCPT TO:<alice@example.com>\r\n",
            Chunk(content[..20]), Chunk(content[20..], last: true)));
        var replies = await FinalRepliesAsync(transport.Client, 5);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[4]);
        Assert.Equal(content, StoredBody(message));
        Assert.Contains(new KeyValuePair<string, string?>("BODY", "BINARYMIME"), message.Envelope.MailParameters);
    }

    [Fact]
    public async Task Bdat_NulWithoutBinaryMimeIs550()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();
        byte[] content = [.. "Subject: nul\r\n\r\n"u8, 0, .. "\r\n"u8];

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(content, last: true), "NOOP\r\n"));
        var replies = await transport.Client.ReadRepliesAsync(5);

        Assert.Equal("550 5.6.0 Message contains a NUL character; send it with BODY=BINARYMIME", replies[3]);
        Assert.Equal("250 2.0.0 Ok", replies[4]);
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bdat_BareLineEndingsKeptWithoutBinaryMime()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();
        byte[] content = Encoding.ASCII.GetBytes("Subject: bare\n\nline\rnext\n.\nMAIL FROM:<evil@example.net>\r\n");

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(content, last: true)));
        var replies = await FinalRepliesAsync(transport.Client, 4);
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.Equal("250 2.0.0 Ok: delivered as <id>", replies[3]);
        Assert.Equal(content, StoredBody(message));
    }

    [Fact]
    public async Task Rset_AfterChunkDeletesSpoolFile()
    {
        var (transport, delivery) = Open("limits.memory-message-size = 0");
        await transport.Client.ReadReplyAsync();
        string incoming = Path.Combine(SpoolDirectory, "incoming");

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(Message)));
        await transport.Client.ReadRepliesAsync(4);
        int filesDuringChunks = Directory.GetFiles(incoming).Length;
        string rset = await transport.Client.CommandAsync("RSET\r\n");
        await AwaitConditionAsync(() => Task.FromResult(Directory.GetFiles(incoming).Length == 0), Wait);

        Assert.Equal(1, filesDuringChunks);
        Assert.Equal("250 2.0.0 Ok", rset);
        Assert.Equal("503 5.5.1 Need MAIL before BDAT", await transport.Client.CommandAsync("BDAT 0 LAST\r\n"));
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bdat_AfterRsetOfEmptyChunkRejected()
    {
        // The first chunk is empty, so the Received header is still buffered when RSET ends the transaction.
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Envelope + "BDAT 0\r\nRSET\r\nBDAT 4\r\nNOOPNOOP\r\n");
        var replies = await transport.Client.ReadRepliesAsync(7);

        Assert.Equal(["250 2.0.0 Ok: 0 octets received", "250 2.0.0 Ok", "503 5.5.1 Need MAIL before BDAT", "250 2.0.0 Ok"], replies.Skip(3));
        delivery.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bdat_EmptyFirstChunkKeepsReceived()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, "BDAT 0\r\n", Chunk(Message, last: true)));
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);

        Assert.StartsWith("Received: from client.example", ReadSpool(message).Received);
        Assert.Equal(Message, StoredBody(message));
    }

    [Fact]
    public async Task Bdat_ReceivedHeaderNamesEsmtp()
    {
        var (transport, delivery) = Open();
        await transport.Client.ReadReplyAsync();

        await transport.Client.SendAsync(Bytes(Envelope, Chunk(Message, last: true)));
        var message = delivery.ExpectMsg<DeliverMessage>(Wait);
        var (received, _) = ReadSpool(message);

        Assert.StartsWith("Received: from client.example ([127.0.0.1])\r\n\tby mx.test (Actors.Mta) with ESMTP id " + message.QueueId, received);
    }
}

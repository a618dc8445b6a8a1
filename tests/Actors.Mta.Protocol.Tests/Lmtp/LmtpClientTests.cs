using System.Net;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Lmtp;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Lmtp;

public sealed class LmtpClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromMilliseconds(300);
    private static readonly Mailbox Sender = new("sender", "example.com");

    // Connection setup.

    [Fact]
    public async Task Connect_ParsesExtensionsUpperCase()
    {
        await using var server = FakeLmtpServer.StartTcp(session =>
            session.GreetAsync("pipelining", "SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES", "X-Custom arg"));

        await using LmtpClient client = await ConnectAsync(server);

        Assert.Equal(["8BITMIME", "ENHANCEDSTATUSCODES", "PIPELINING", "SIZE", "X-CUSTOM"], client.Extensions.Order());
    }

    [Fact]
    public async Task Connect_ServerNameIsNoExtension()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.GreetAsync("PIPELINING"));

        await using LmtpClient client = await ConnectAsync(server);

        Assert.DoesNotContain("FAKE.TEST", client.Extensions);
    }

    [Fact]
    public async Task Connect_SendsLhloWithDomain()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.GreetAsync());

        await using (await ConnectAsync(server))
        {
        }

        await server.Completion;
        Assert.Equal(["LHLO mta.test", "QUIT"], server.Session.Lines);
    }

    [Fact]
    public async Task Connect_RejectedGreetingThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.SendAsync("554 5.3.2 Not now\r\n"));

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ConnectAsync(server));

        Assert.Equal(554, exception.Reply?.Code);
        Assert.Contains("554 5.3.2 Not now", exception.Message);
    }

    [Fact]
    public async Task Connect_RejectedLhloThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.SendAsync("220 fake.test ready\r\n");
            await session.ReadLineAsync();
            await session.SendAsync("500 5.5.1 Unknown command\r\n");
        });

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => ConnectAsync(server));

        Assert.Equal(500, exception.Reply?.Code);
    }

    [Fact]
    public async Task Connect_NoGreetingTimesOut()
    {
        // The server accepts the connection and never greets, so the script waits until the client gives up.
        await using var server = FakeLmtpServer.StartTcp(session => session.ReadLineAsync());

        await Assert.ThrowsAsync<TimeoutException>(() =>
            LmtpClient.ConnectAsync(server.Endpoint, "mta.test", ShortTimeout, CancellationToken.None));
    }

    [Fact]
    public async Task Connect_CanceledThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.ReadLineAsync());
        using var cancellation = new CancellationTokenSource(ShortTimeout);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            LmtpClient.ConnectAsync(server.Endpoint, "mta.test", Timeout, cancellation.Token));
    }

    [Fact]
    public async Task Connect_ClosedPortThrows()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await Assert.ThrowsAsync<SocketException>(() =>
            LmtpClient.ConnectAsync(new LmtpEndpoint.Tcp("127.0.0.1", port), "mta.test", Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Connect_InvalidLhloDomainThrows()
    {
        await Assert.ThrowsAsync<ArgumentException>(() =>
            LmtpClient.ConnectAsync(new LmtpEndpoint.Tcp("127.0.0.1", 1), "mta.test\r\nQUIT", Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Connect_UnixSocketTransaction()
    {
        await using var server = FakeLmtpServer.StartUnix(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(3);
            await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 Go\r\n");
            await session.ReadDataAsync();
            await session.SendAsync("250 2.0.0 Saved\r\n");
        });

        LmtpTransactionResult result;
        await using (LmtpClient client = await ConnectAsync(server))
        {
            result = await client.SendAsync(Envelope("a@example.com"), Message("Subject: x\r\n\r\nbody\r\n"), Timeout, CancellationToken.None);
        }

        await server.Completion;
        Assert.Equal(250, result.DataReplies[0]?.Code);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n", Encoding.ASCII.GetString(server.Session.DataBlocks.Single()));
    }

    // Transactions.

    [Fact]
    public async Task Send_PipelinedTransaction()
    {
        // The script reads all commands before it replies, so a client that waits for each reply would time out.
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING", "8BITMIME");
                await session.ReadLinesAsync(4);
                await session.SendAsync("250 2.1.0 Sender OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 Start mail input\r\n");
                await session.ReadDataAsync();
                await session.SendAsync("250 2.0.0 <a> Saved\r\n250 2.0.0 <b> Saved\r\n");
            },
            Envelope("a@example.com", "b@example.com"),
            "Subject: test\r\n\r\nHello\r\n");

        Assert.Equal(
            ["LHLO mta.test", "MAIL FROM:<sender@example.com>", "RCPT TO:<a@example.com>", "RCPT TO:<b@example.com>", "DATA", "QUIT"],
            session.Lines);
        Assert.Equal(250, result.MailReply.Code);
        Assert.Equal([250, 250], result.RecipientReplies.Select(reply => reply.Code));
        Assert.Equal(["<a> Saved", "<b> Saved"], result.DataReplies.Select(reply => reply?.Lines[0]));
        Assert.Equal("2.0.0", result.DataReplies[0]?.EnhancedCode);
        Assert.Equal("Subject: test\r\n\r\nHello\r\n", Encoding.ASCII.GetString(session.DataBlocks.Single()));
        Assert.False(result.NeedsReset);
    }

    [Fact]
    public async Task Send_RcptParametersWhenServerOffersDsn()
    {
        var envelope = Envelope("a@example.com", "b@example.com") with
        {
            RecipientParameters = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>>
            {
                ["a@example.com"] = [new("NOTIFY", "NEVER"), new("ORCPT", "rfc822;a@example.com")],
            },
        };
        (_, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING", "DSN");
                await session.ReadLinesAsync(4);
                await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 Go\r\n");
                await session.ReadDataAsync();
                await session.SendAsync("250 2.0.0 Saved\r\n250 2.0.0 Saved\r\n");
            },
            envelope,
            "Subject: dsn\r\n\r\nbody\r\n");

        Assert.Equal("RCPT TO:<a@example.com> NOTIFY=NEVER ORCPT=rfc822;a@example.com", session.Lines[2]);
        Assert.Equal("RCPT TO:<b@example.com>", session.Lines[3]);
    }

    [Fact]
    public async Task Send_SequentialWaitsForEachReply()
    {
        var earlyInput = new List<bool>();
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("8BITMIME");
                foreach (string reply in new[] { "250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK", "354 Go" })
                {
                    await session.ReadLineAsync();
                    earlyInput.Add(await session.HasInputWithinAsync(TimeSpan.FromMilliseconds(200)));
                    await session.SendAsync(reply + "\r\n");
                }

                await session.ReadDataAsync();
                await session.SendAsync("250 2.0.0 Saved\r\n250 2.0.0 Saved\r\n");
            },
            Envelope("a@example.com", "b@example.com"),
            "body\r\n");

        Assert.Equal([false, false, false, false], earlyInput);
        Assert.Equal(
            ["LHLO mta.test", "MAIL FROM:<sender@example.com>", "RCPT TO:<a@example.com>", "RCPT TO:<b@example.com>", "DATA", "QUIT"],
            session.Lines);
        Assert.Equal([250, 250], result.DataReplies.Select(reply => reply?.Code));
    }

    [Fact]
    public async Task Send_MixedDataReplies()
    {
        (LmtpTransactionResult result, _) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(5);
                await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 Go\r\n");
                await session.ReadDataAsync();
                await session.SendAsync("250 2.0.0 Saved\r\n452 4.2.2 Mailbox full\r\n550 5.7.1 Rejected by sieve\r\n");
            },
            Envelope("a@example.com", "b@example.com", "c@example.com"),
            "body\r\n");

        Assert.Equal([250, 452, 550], result.DataReplies.Select(reply => reply?.Code));
        Assert.Equal(["2.0.0", "4.2.2", "5.7.1"], result.DataReplies.Select(reply => reply?.EnhancedCode));
    }

    [Fact]
    public async Task Send_RejectedRecipientHasNoDataReply()
    {
        (LmtpTransactionResult result, _) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(5);
                await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 No such user\r\n250 2.1.5 OK\r\n354 Go\r\n");
                await session.ReadDataAsync();
                await session.SendAsync("250 2.0.0 first\r\n452 4.2.2 third\r\n");
            },
            Envelope("a@example.com", "nobody@example.com", "c@example.com"),
            "body\r\n");

        Assert.Equal([250, 550, 250], result.RecipientReplies.Select(reply => reply.Code));
        Assert.Equal(["first", null, "third"], result.DataReplies.Select(reply => reply?.Lines[0]));
    }

    [Fact]
    public async Task Send_MailRejectedPipelined()
    {
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(4);
                await session.SendAsync("550 5.7.1 Sender rejected\r\n503 5.5.1 MAIL needed first\r\n503 5.5.1 MAIL needed first\r\n503 5.5.1 No valid recipients\r\n");
            },
            Envelope("a@example.com", "b@example.com"),
            "body\r\n");

        Assert.Equal(550, result.MailReply.Code);
        Assert.All(result.RecipientReplies, reply => Assert.Same(result.MailReply, reply));
        Assert.All(result.DataReplies, Assert.Null);
        Assert.Empty(session.DataBlocks);
        Assert.False(result.NeedsReset);
    }

    [Fact]
    public async Task Send_MailClosing421Throws()
    {
        // A server that closed an idle connection: its 421 waits in the socket and arrives as the MAIL reply.
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync();
            await session.SendAsync("421 4.4.2 fake.test Disconnected client for inactivity\r\n");
            await session.ReadLineAsync();
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(
            () => client.SendAsync(Envelope("a@example.com"), Message("body\r\n"), Timeout, CancellationToken.None));

        Assert.Equal(421, exception.Reply?.Code);
        Assert.False(client.CanReuse);
    }

    [Fact]
    public async Task Send_DataReply421EndsReuse()
    {
        LmtpTransactionResult? result = null;
        bool canReuse = true;
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(4);
            await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 Go\r\n");
            await session.ReadDataAsync();
            await session.SendAsync("250 2.0.0 Saved\r\n421 4.3.2 Shutting down\r\n");
        });

        await using (LmtpClient client = await ConnectAsync(server))
        {
            result = await client.SendAsync(Envelope("a@example.com", "b@example.com"), Message("body\r\n"), Timeout, CancellationToken.None);
            canReuse = client.CanReuse;
        }

        Assert.Equal([250, 421], result.DataReplies.Select(reply => reply?.Code));
        Assert.False(canReuse);
    }

    [Fact]
    public async Task Send_MailRejectedSequential()
    {
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync();
                await session.ReadLineAsync();
                await session.SendAsync("451 4.3.0 Temporary failure\r\n");
            },
            Envelope("a@example.com", "b@example.com"),
            "body\r\n");

        Assert.Equal(["LHLO mta.test", "MAIL FROM:<sender@example.com>", "QUIT"], session.Lines);
        Assert.Equal([451, 451], result.RecipientReplies.Select(reply => reply.Code));
        Assert.All(result.DataReplies, Assert.Null);
    }

    [Fact]
    public async Task Send_AllRecipientsRejectedPipelined()
    {
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(4);
                await session.SendAsync("250 2.1.0 OK\r\n550 5.1.1 No such user\r\n452 4.2.2 Over quota\r\n503 5.5.1 No valid recipients\r\n");
            },
            Envelope("a@example.com", "b@example.com"),
            "body\r\n");

        Assert.Equal([550, 452], result.RecipientReplies.Select(reply => reply.Code));
        Assert.All(result.DataReplies, Assert.Null);
        Assert.Empty(session.DataBlocks);
        Assert.True(result.NeedsReset);
    }

    [Fact]
    public async Task Send_AllRejectedButDataAccepted()
    {
        // RFC 2920 section 3.1: after a 354 the client sends only the terminating dot.
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(3);
                await session.SendAsync("250 2.1.0 OK\r\n550 5.1.1 No such user\r\n354 Go ahead anyway\r\n");
                await session.ReadDataAsync();
                await session.SendAsync("554 5.5.1 No valid recipients\r\n");
            },
            Envelope("a@example.com"),
            "body\r\n");

        Assert.Empty(session.DataBlocks.Single());
        Assert.Null(result.DataReplies[0]);
        Assert.Equal("QUIT", session.Lines[^1]);
    }

    [Fact]
    public async Task Send_AllRecipientsRejectedSequential()
    {
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync();
                await session.ReadLineAsync();
                await session.SendAsync("250 2.1.0 OK\r\n");
                await session.ReadLineAsync();
                await session.SendAsync("550 5.1.1 No such user\r\n");
            },
            Envelope("a@example.com"),
            "body\r\n");

        Assert.DoesNotContain("DATA", session.Lines);
        Assert.Equal(550, result.RecipientReplies[0].Code);
        Assert.Null(result.DataReplies[0]);
    }

    [Fact]
    public async Task Send_DataRejectedAppliesToAccepted()
    {
        (LmtpTransactionResult result, FakeLmtpSession session) = await RunAsync(
            async session =>
            {
                await session.GreetAsync("PIPELINING");
                await session.ReadLinesAsync(4);
                await session.SendAsync("250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 No such user\r\n451 4.3.0 Try later\r\n");
            },
            Envelope("a@example.com", "nobody@example.com"),
            "body\r\n");

        Assert.Equal(451, result.DataReplies[0]?.Code);
        Assert.Null(result.DataReplies[1]);
        Assert.Empty(session.DataBlocks);
        Assert.True(result.NeedsReset);
    }

    [Fact]
    public async Task Send_NullReversePath()
    {
        var envelope = new LmtpEnvelope(null, [new Mailbox("a", "example.com")], []);

        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), envelope, "body\r\n");

        Assert.Equal("MAIL FROM:<>", session.Lines[1]);
    }

    [Fact]
    public async Task Send_Utf8AddressesAsUtf8()
    {
        var envelope = new LmtpEnvelope(
            new Mailbox("用户", "例え.jp"),
            [new Mailbox("ü", "bücher.example")],
            [new("SMTPUTF8", null)]);

        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1, "SMTPUTF8"), envelope, "body\r\n");

        Assert.Equal("MAIL FROM:<用户@例え.jp> SMTPUTF8", session.Lines[1]);
        Assert.Equal("RCPT TO:<ü@bücher.example>", session.Lines[2]);
    }

    [Fact]
    public async Task Send_ParametersDroppedWhenNotAdvertised()
    {
        LmtpEnvelope envelope = EnvelopeWithAllParameters();

        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), envelope, "body\r\n");

        Assert.Equal("MAIL FROM:<sender@example.com>", session.Lines[1]);
    }

    [Fact]
    public async Task Send_ParametersKeptWhenAdvertised()
    {
        LmtpEnvelope envelope = EnvelopeWithAllParameters();

        (_, FakeLmtpSession session) = await RunAsync(
            AcceptAllAsync(1, "SMTPUTF8", "8BITMIME", "SIZE 1000000", "DSN", "XFOO"), envelope, "body\r\n");

        Assert.Equal("MAIL FROM:<sender@example.com> SMTPUTF8 BODY=8BITMIME SIZE=5 RET=HDRS ENVID=id+2B1 XFOO=1", session.Lines[1]);
    }

    [Fact]
    public async Task Send_NoRecipientsThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.GreetAsync());
        await using LmtpClient client = await ConnectAsync(server);

        await Assert.ThrowsAsync<ArgumentException>(() =>
            client.SendAsync(new LmtpEnvelope(Sender, [], []), Message("x"), Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Send_TwoTransactionsWithReset()
    {
        var replies = new List<SmtpReply?>();
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await AcceptTransactionAsync(session, 1);
            await session.ReadLineAsync();
            await session.SendAsync("250 2.0.0 OK\r\n");
            await AcceptTransactionAsync(session, 1);
        });

        await using (LmtpClient client = await ConnectAsync(server))
        {
            LmtpTransactionResult first = await client.SendAsync(Envelope("a@example.com"), Message("one\r\n"), Timeout, CancellationToken.None);
            await client.ResetAsync(Timeout, CancellationToken.None);
            LmtpTransactionResult second = await client.SendAsync(Envelope("b@example.com"), Message("two\r\n"), Timeout, CancellationToken.None);
            replies.Add(first.DataReplies[0]);
            replies.Add(second.DataReplies[0]);
        }

        await server.Completion;
        Assert.Equal([250, 250], replies.Select(reply => reply?.Code));
        Assert.Equal("RSET", server.Session.Lines[4]);
        Assert.Equal(["one\r\n", "two\r\n"], server.Session.DataBlocks.Select(Encoding.ASCII.GetString));
    }

    [Fact]
    public async Task Send_TwoTransactionsWithoutReset()
    {
        var replies = new List<SmtpReply?>();
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await AcceptTransactionAsync(session, 1);
            await AcceptTransactionAsync(session, 1);
        });

        await using (LmtpClient client = await ConnectAsync(server))
        {
            LmtpTransactionResult first = await client.SendAsync(Envelope("a@example.com"), Message("one\r\n"), Timeout, CancellationToken.None);
            LmtpTransactionResult second = await client.SendAsync(Envelope("b@example.com"), Message("two\r\n"), Timeout, CancellationToken.None);
            replies.Add(first.DataReplies[0]);
            replies.Add(second.DataReplies[0]);
        }

        await server.Completion;
        Assert.Equal([250, 250], replies.Select(reply => reply?.Code));
        Assert.Equal("MAIL FROM:<sender@example.com>", server.Session.Lines[4]);
        Assert.Equal(["one\r\n", "two\r\n"], server.Session.DataBlocks.Select(Encoding.ASCII.GetString));
    }

    // Message content.

    [Fact]
    public async Task Send_DotStuffing()
    {
        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), ".\r\n..x\r\n.x\r\nmiddle .\r\n.");

        Assert.Equal("..\r\n...x\r\n..x\r\nmiddle .\r\n..\r\n", Encoding.ASCII.GetString(session.DataBlocks.Single()));
    }

    [Fact]
    public async Task Send_DotStuffingAcrossChunks()
    {
        byte[] message = BuildMessageWithDotsAtChunkBoundaries();

        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), new MemoryStream(message));

        byte[] received = session.DataBlocks.Single();
        Assert.Equal(ReferenceStuff(message), received);
        Assert.Equal(message, Unstuff(received));
    }

    [Fact]
    public async Task Send_DotStuffingWithShortReads()
    {
        // A stream that returns a few bytes per read moves the chunk boundaries to every possible place.
        byte[] message = Encoding.ASCII.GetBytes(".a\r\n..b\r\nc\r\n.\r\n.d\r\ne.\r\n.");

        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), new TrickleStream(message, 3));

        Assert.Equal(ReferenceStuff(message), session.DataBlocks.Single());
    }

    [Fact]
    public async Task Send_MessageWithoutFinalCrlf()
    {
        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), "Subject: x\r\n\r\nno line end");

        Assert.Equal("Subject: x\r\n\r\nno line end\r\n", Encoding.ASCII.GetString(session.DataBlocks.Single()));
    }

    [Fact]
    public async Task Send_MessageWithFinalCrlfUnchanged()
    {
        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), "Subject: x\r\n\r\nbody\r\n");

        Assert.Equal("Subject: x\r\n\r\nbody\r\n", Encoding.ASCII.GetString(session.DataBlocks.Single()));
    }

    [Fact]
    public async Task Send_EmptyMessage()
    {
        (_, FakeLmtpSession session) = await RunAsync(AcceptAllAsync(1), Envelope("a@example.com"), "");

        Assert.Empty(session.DataBlocks.Single());
    }

    // Failures.

    [Fact]
    public async Task Send_MalformedReplyThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync();
            await session.ReadLineAsync();
            await session.SendAsync("hello there\r\n");
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), Timeout, CancellationToken.None));

        Assert.Contains("hello there", exception.Message);
    }

    [Fact]
    public async Task Send_ConnectionClosedMidReply()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync();
            await session.ReadLineAsync();
            await session.SendAsync("250-2.1.0 first line\r\n");
            session.Close();
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), Timeout, CancellationToken.None));

        Assert.Contains("closed the connection", exception.Message);
    }

    [Fact]
    public async Task Send_ConnectionClosedBeforeDataReplies()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(4);
            await session.SendAsync("250 OK\r\n250 OK\r\n250 OK\r\n354 Go\r\n");
            await session.ReadDataAsync();
            await session.SendAsync("250 2.0.0 first\r\n");
            session.Close();
        });
        await using LmtpClient client = await ConnectAsync(server);

        await Assert.ThrowsAsync<LmtpProtocolException>(() =>
            client.SendAsync(Envelope("a@example.com", "b@example.com"), Message("x"), Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Send_ReplyTimeoutThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(3);
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<TimeoutException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), ShortTimeout, CancellationToken.None));

        Assert.Contains("did not reply to MAIL", exception.Message);
    }

    [Fact]
    public async Task Send_AfterTimeoutClientUnusable()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(3);
        });
        await using LmtpClient client = await ConnectAsync(server);
        await Assert.ThrowsAsync<TimeoutException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), ShortTimeout, CancellationToken.None));

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Send_DataReplyTimeoutThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(3);
            await session.SendAsync("250 OK\r\n250 OK\r\n354 Go\r\n");
            await session.ReadDataAsync();
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<TimeoutException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), ShortTimeout, CancellationToken.None));

        Assert.Contains("did not reply to end of data", exception.Message);
    }

    [Fact]
    public async Task Send_CanceledThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync("PIPELINING");
            await session.ReadLinesAsync(3);
        });
        await using LmtpClient client = await ConnectAsync(server);
        using var cancellation = new CancellationTokenSource(ShortTimeout);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.SendAsync(Envelope("a@example.com"), Message("x"), Timeout, cancellation.Token));
    }

    [Fact]
    public async Task Reset_RejectedThrows()
    {
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync();
            await session.ReadLineAsync();
            await session.SendAsync("421 4.4.2 Shutting down\r\n");
        });
        await using LmtpClient client = await ConnectAsync(server);

        var exception = await Assert.ThrowsAsync<LmtpProtocolException>(() => client.ResetAsync(Timeout, CancellationToken.None));

        Assert.Equal(421, exception.Reply?.Code);
    }

    [Fact]
    public async Task Dispose_WithoutQuitReplyReturns()
    {
        // The server reads QUIT but never replies, so DisposeAsync must give up on its own short timeout.
        await using var server = FakeLmtpServer.StartTcp(async session =>
        {
            await session.GreetAsync();
            await session.ReadLineAsync();
            await session.ReadLineAsync();
        });
        LmtpClient client = await ConnectAsync(server);

        await client.DisposeAsync().AsTask().WaitAsync(Timeout);

        await server.Completion;
        Assert.Equal("QUIT", server.Session.Lines[^1]);
    }

    [Fact]
    public async Task Dispose_TwiceIsHarmless()
    {
        await using var server = FakeLmtpServer.StartTcp(session => session.GreetAsync());
        LmtpClient client = await ConnectAsync(server);

        await client.DisposeAsync();
        await client.DisposeAsync();

        await server.Completion;
        Assert.Single(server.Session.Lines, "QUIT");
    }

    // Helpers.

    private static Task<LmtpClient> ConnectAsync(FakeLmtpServer server) =>
        LmtpClient.ConnectAsync(server.Endpoint, "mta.test", Timeout, CancellationToken.None);

    private static LmtpEnvelope Envelope(params string[] recipients) =>
        new(Sender, recipients.Select(ToMailbox).ToArray(), []);

    private static Mailbox ToMailbox(string address)
    {
        int at = address.LastIndexOf('@');
        return new Mailbox(address[..at], address[(at + 1)..]);
    }

    private static LmtpEnvelope EnvelopeWithAllParameters() => new(
        Sender,
        [new Mailbox("a", "example.com")],
        [
            new("SMTPUTF8", null),
            new("BODY", "8BITMIME"),
            new("SIZE", "5"),
            new("RET", "HDRS"),
            new("ENVID", "id+2B1"),
            new("XFOO", "1"),
        ]);

    private static MemoryStream Message(string text) => new(Encoding.UTF8.GetBytes(text));

    private static Task<(LmtpTransactionResult, FakeLmtpSession)> RunAsync(
        Func<FakeLmtpSession, Task> script, LmtpEnvelope envelope, string message) =>
        RunAsync(script, envelope, Message(message));

    /// <summary>Runs one transaction against a scripted server and returns the result with what the server received.</summary>
    private static async Task<(LmtpTransactionResult, FakeLmtpSession)> RunAsync(
        Func<FakeLmtpSession, Task> script, LmtpEnvelope envelope, Stream message)
    {
        await using var server = FakeLmtpServer.StartTcp(script);
        LmtpTransactionResult result;
        await using (LmtpClient client = await ConnectAsync(server))
        {
            result = await client.SendAsync(envelope, message, Timeout, CancellationToken.None);
        }

        await server.Completion;
        return (result, server.Session);
    }

    /// <summary>A script that advertises PIPELINING plus <paramref name="extensions"/> and accepts one transaction.</summary>
    private static Func<FakeLmtpSession, Task> AcceptAllAsync(int recipientCount, params string[] extensions) =>
        async session =>
        {
            await session.GreetAsync(["PIPELINING", .. extensions]);
            await AcceptTransactionAsync(session, recipientCount);
        };

    private static async Task AcceptTransactionAsync(FakeLmtpSession session, int recipientCount)
    {
        await session.ReadLinesAsync(recipientCount + 2);
        var replies = new StringBuilder("250 2.1.0 OK\r\n");
        replies.Insert(replies.Length, "250 2.1.5 OK\r\n", recipientCount);
        replies.Append("354 Go\r\n");
        await session.SendAsync(replies.ToString());
        await session.ReadDataAsync();
        await session.SendAsync(new StringBuilder().Insert(0, "250 2.0.0 Saved\r\n", recipientCount).ToString());
    }

    /// <summary>
    /// Builds a message of more than four data chunks. At three chunk boundaries one chunk ends with an LF and the
    /// next starts with "."; at the fourth, a CRLF is split across the boundary and a "." line follows it.
    /// </summary>
    private static byte[] BuildMessageWithDotsAtChunkBoundaries()
    {
        const int chunk = LmtpClient.DataChunkSize;
        var message = new MemoryStream();
        message.Write("Subject: dots\r\n\r\n"u8);

        FillLinesUntil(message, chunk);
        message.Write(".\r\n"u8);
        FillLinesUntil(message, 2 * chunk);
        message.Write("..x\r\n"u8);
        FillLinesUntil(message, 3 * chunk - 1);
        message.Write("\r"u8);
        message.Write("\n.x\r\n"u8);
        FillLinesUntil(message, 4 * chunk);
        message.Write(".x"u8);
        message.Write(new byte[100]);
        message.Write("\r\n.\r\n.end"u8);
        return message.ToArray();
    }

    /// <summary>Writes filler lines, each ending in CRLF, so the stream ends exactly at <paramref name="offset"/>.</summary>
    private static void FillLinesUntil(MemoryStream message, int offset)
    {
        if (offset - message.Length == 1)
        {
            throw new InvalidOperationException("A filler line needs at least two octets for its CRLF");
        }

        while (message.Length < offset)
        {
            int remaining = offset - (int)message.Length;
            int lineLength = remaining <= 1000 ? remaining : Math.Min(1000, remaining - 2);
            byte[] line = Enumerable.Repeat((byte)'a', lineLength).ToArray();
            line[^2] = (byte)'\r';
            line[^1] = (byte)'\n';
            message.Write(line);
        }
    }

    /// <summary>Byte-by-byte reference encoding, without the ".\r\n" terminator that the fake server strips.</summary>
    private static byte[] ReferenceStuff(byte[] message)
    {
        var output = new List<byte>();
        bool atLineStart = true;
        foreach (byte b in message)
        {
            if (atLineStart && b == '.')
            {
                output.Add((byte)'.');
            }

            output.Add(b);
            atLineStart = b == '\n';
        }

        if (message.Length > 0 && !message.AsSpan().EndsWith("\r\n"u8))
        {
            output.AddRange(message[^1] == '\r' ? "\n"u8.ToArray() : "\r\n"u8.ToArray());
        }

        return output.ToArray();
    }

    /// <summary>Removes the dot that stuffing added at each line start, as a server does.</summary>
    private static byte[] Unstuff(byte[] data)
    {
        var output = new List<byte>();
        bool atLineStart = true;
        for (int i = 0; i < data.Length; i++)
        {
            if (!(atLineStart && data[i] == '.'))
            {
                output.Add(data[i]);
            }
            else if (i + 1 < data.Length)
            {
                output.Add(data[++i]);
            }

            atLineStart = data[i] == '\n';
        }

        // The client added a CRLF because the message does not end with one.
        return output.Take(output.Count - 2).ToArray();
    }

    /// <summary>A read-only stream that returns at most a few bytes per read.</summary>
    private sealed class TrickleStream(byte[] content, int maxRead) : MemoryStream(content)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, maxRead));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, maxRead)]);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer, offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Read(buffer.Span));
    }
}

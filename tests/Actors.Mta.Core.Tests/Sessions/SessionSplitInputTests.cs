using System.Text;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>
/// Feeds transcripts to a session split at byte boundaries, each piece reaching the session in a read of its
/// own, and checks that the replies and stored messages are those of the same transcript sent in one write.
/// </summary>
public sealed class SessionSplitInputTests(ITestOutputHelper output) : MtaTestKit(output)
{
    // ClosesEarly: the session closes before the end of the input, so later pieces are never read.
    private sealed record Scenario(string Overrides, string Input, string[] ExpectedReplies, string[] ExpectedBodies, bool ClosesEarly = false);

    private static readonly Dictionary<string, Scenario> Scenarios = new()
    {
        // Two pipelined transactions: a dot-stuffed message that is delivered, then a smuggling attempt that is rejected.
        ["transaction"] = new(
            "",
            "EHLO client.example\r\nMAIL FROM:<sender@example.net> BODY=8BITMIME\r\nRCPT TO:<alice@example.com>\r\n" +
            "RCPT TO:<bob@example.org>\r\nRCPT TO:<eve@elsewhere.example>\r\nDATA\r\n" +
            "Subject: split\r\n\r\n..\r\n...two\r\nline.\r\n.\r\n" +
            "NOOP\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n" +
            "bad\n.\nMAIL FROM:<evil@example.net>\r\n.\r\nRSET\r\nQUIT\r\n",
            ["220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.7.1", "354", "250 2.0.0 Ok: delivered as",
                "250 2.0.0", "250 2.1.0", "250 2.1.5", "354", "550 5.6.0", "250 2.0.0", "221 2.0.0"],
            ["Subject: split\r\n\r\n.\r\n..two\r\nline.\r\n"]),
        // Sequence and syntax errors, lower-case commands and the commands that get fixed replies.
        ["commands"] = new(
            "",
            "HELO\r\nMAIL FROM:<a@example.net>\r\nEHLO client.example\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n" +
            "mail from:<sender@example.net> body=8bitmime\r\nMAIL FROM:<x@example.net>\r\nrcpt to:<Postmaster>\r\n" +
            "RCPT TO:<root@[127.0.0.1]>\r\nRSET\r\nMAIL FROM:<s@example.net> FOO=BAR\r\nMAIL FROM:<s@example.net> SIZE=99999999999\r\n" +
            "MAIL FROM:<s@example.net>\r\nDATA\r\nVRFY alice\r\nHELP\r\nEXPN staff\r\nSTARTTLS\r\nFOO\r\nNOOP\r\nQUIT\r\n",
            ["220", "501 5.5.4", "503 5.5.1", "250", "503 5.5.1", "503 5.5.1", "250 2.1.0", "503 5.5.1", "250 2.1.5",
                "550 5.7.1", "250 2.0.0", "555 5.5.4", "552 5.3.4", "250 2.1.0", "554 5.5.1", "252 2.5.0", "214 2.0.0",
                "502 5.5.1", "502 5.5.1", "500 5.5.2", "250 2.0.0", "221 2.0.0"],
            []),
        ["bad-command-lines"] = new(
            "",
            "EHLO client.example\r\nNOOP\nNO\0OP\r\nNOOP " + new string('x', 600) + "\r\nnoop\r\nQUIT\r\n",
            ["220", "250", "500 5.5.2", "500 5.5.2", "500 5.5.2", "250 2.0.0", "221 2.0.0"],
            []),
        ["lf-dot-lf"] = SmugglingScenario("\n.\n"),
        ["cr-dot-cr"] = SmugglingScenario("\r.\r"),
        ["lf-dot-crlf"] = SmugglingScenario("\n.\r\n"),
        ["crlf-dot-lf"] = SmugglingScenario("\r\n.\n"),
        ["cr-dot-crlf"] = SmugglingScenario("\r.\r\n"),
        ["too-large"] = new(
            "limits.max-message-size = 1024",
            "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n" +
            string.Concat(Enumerable.Repeat(new string('a', 98) + "\r\n", 11)) + ".\r\nNOOP\r\nQUIT\r\n",
            ["220", "250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4", "250 2.0.0", "221 2.0.0"],
            []),
        ["too-many-errors"] = new(
            "limits.max-errors-per-session = 3",
            "EHLO client.example\r\nFOO\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<x@elsewhere.example>\r\n" +
            "RCPT TO:<root@[127.0.0.1]>\r\n",
            ["220", "250", "500 5.5.2", "250 2.1.0", "550 5.7.1", "550 5.7.1", "421 4.7.0"],
            []),
        ["too-many-transactions"] = new(
            "limits.max-transactions-per-session = 1",
            "EHLO client.example\r\nMAIL FROM:<s@example.net>\r\nRSET\r\nMAIL FROM:<s@example.net>\r\n",
            ["220", "250", "250 2.1.0", "250 2.0.0", "421 4.7.0"],
            []),
        ["long-data-line"] = new(
            "limits.max-data-line-length = 1000",
            "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n" +
            new string('a', 999) + "\r\n.\r\nNOOP\r\nQUIT\r\n",
            ["220", "250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4", "250 2.0.0", "221 2.0.0"],
            []),
        ["untrusted-proxy-v1"] = new(
            "",
            "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nEHLO client.example\r\nQUIT\r\n",
            ["220", "554 5.7.0"],
            [],
            ClosesEarly: true),
        ["untrusted-proxy-v2"] = new(
            "",
            "\r\n\r\n\0\r\nQUIT\n\u0021\u0011\0\u000cQUIT\r\n",
            ["220", "554 5.7.0"],
            [],
            ClosesEarly: true),
    };

    public static TheoryData<string> DefenceScenarioNames => new(["too-many-errors", "untrusted-proxy-v1", "untrusted-proxy-v2"]);

    public static TheoryData<string> ScenarioNames => new(Scenarios.Keys);

    private static Scenario SmugglingScenario(string ending) => new(
        "",
        "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n" +
        "Subject: test\r\n\r\nbody" + ending + "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n" +
        "Smuggled\r\n.\r\nQUIT\r\n",
        ["220", "250", "250 2.1.0", "250 2.1.5", "354", "550 5.6.0", "221 2.0.0"],
        []);

    private sealed record Outcome(IReadOnlyList<string> Replies, IReadOnlyList<string> Bodies, int Reads);

    private async Task<Outcome> RunAsync(Scenario scenario, IEnumerable<byte[]> pieces)
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        var transport = StartSession(SessionSettings(scenario.Overrides), delivery);

        await transport.SendInPiecesAsync(pieces);
        var replies = await transport.Client.ReadToEndAsync();
        var bodies = new List<string>();
        while (delivery.HasMessages)
        {
            bodies.Add(ReadSpool(delivery.ExpectMsg<DeliverMessage>(Wait)).Body);
        }

        return new Outcome(MaskQueueIds(replies), bodies, transport.ReadCount);
    }

    private static List<string> FinalLines(IEnumerable<string> replies) => replies.Where(line => line.Length < 4 || line[3] != '-').ToList();

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public async Task OneWrite_GivesExpectedReplies(string name)
    {
        var scenario = Scenarios[name];

        var outcome = await RunAsync(scenario, [Encoding.UTF8.GetBytes(scenario.Input)]);
        var finals = FinalLines(outcome.Replies);

        Assert.Equal(scenario.ExpectedReplies.Length, finals.Count);
        for (int i = 0; i < finals.Count; i++)
        {
            Assert.StartsWith(scenario.ExpectedReplies[i], finals[i]);
        }

        Assert.Equal(scenario.ExpectedBodies, outcome.Bodies);
    }

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public async Task OneByteAtATime_GivesSameReplies(string name)
    {
        var scenario = Scenarios[name];
        byte[] input = Encoding.UTF8.GetBytes(scenario.Input);
        var expected = await RunAsync(scenario, [input]);

        var actual = await RunAsync(scenario, input.Select(b => new[] { b }));

        Assert.Equal(expected.Replies, actual.Replies);
        Assert.Equal(expected.Bodies, actual.Bodies);
        Assert.True(actual.Reads >= input.Length || scenario.ClosesEarly, $"{input.Length} one-byte pieces arrived in only {actual.Reads} reads");
    }

    [Theory]
    [MemberData(nameof(DefenceScenarioNames))]
    public async Task TwoPieces_DefenceScenarioSameReplies(string name)
    {
        var scenario = Scenarios[name];
        byte[] input = Encoding.UTF8.GetBytes(scenario.Input);
        var expected = await RunAsync(scenario, [input]);

        for (int split = 1; split < input.Length; split++)
        {
            var actual = await RunAsync(scenario, [input[..split], input[split..]]);

            Assert.True(expected.Replies.SequenceEqual(actual.Replies),
                $"Split at byte {split}: replies differ.\nExpected:\n{string.Join("\n", expected.Replies)}\nActual:\n{string.Join("\n", actual.Replies)}");
        }
    }

    [Fact]
    public async Task TwoPieces_EveryBoundaryGivesSameReplies()
    {
        var scenario = Scenarios["transaction"];
        byte[] input = Encoding.UTF8.GetBytes(scenario.Input);
        var expected = await RunAsync(scenario, [input]);

        for (int split = 1; split < input.Length; split++)
        {
            var actual = await RunAsync(scenario, [input[..split], input[split..]]);

            Assert.True(expected.Replies.SequenceEqual(actual.Replies),
                $"Split at byte {split}: replies differ.\nExpected:\n{string.Join("\n", expected.Replies)}\nActual:\n{string.Join("\n", actual.Replies)}");
            Assert.True(expected.Bodies.SequenceEqual(actual.Bodies), $"Split at byte {split}: stored message differs");
        }
    }
}

using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>Sends corpus messages with swaks, an independent Perl SMTP client, through the server to Dovecot.</summary>
public sealed class SwaksTests : EndToEndTest
{
    private const string Sender = "swaks@example.net";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(120);

    public SwaksTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    public static IEnumerable<object[]> Messages => new[]
    {
        "plain-ascii.eml",
        "multipart-mixed-attachment.eml",
        "utf8-8bit-body.eml",
        "leading-dots.eml",
        "nested-multipart.eml",
        "received-chain-folded.eml",
        "generated-many-dot-lines.eml",
        "generated-large-attachment.eml",
    }.Select(name => new object[] { name });

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task Swaks_DeliversMessageUnchanged(string name)
    {
        var message = MessageCorpus.Get(name).Content;
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var result = await RunSwaksAsync(server.Port, "alice@example.com", message);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Contains("<-  250", LastReplyBlock(result.Stdout));
        AssertDeliveredExactly(mark, "alice@example.com", message, Sender);
    }

    [Fact]
    public async Task Swaks_TwoRecipientsBothDelivered()
    {
        var message = MessageCorpus.Get("multipart-alternative.eml").Content;
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var result = await RunSwaksAsync(server.Port, "alice@example.com,bob@example.com", message);

        Assert.True(result.ExitCode == 0, result.Transcript);
        AssertDeliveredExactly(mark, "alice@example.com", message, Sender);
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    [Fact]
    public async Task Swaks_UnacceptedDomainRejectedAtRcpt()
    {
        var server = await ServerAsync();

        var result = await RunSwaksAsync(server.Port, "someone@example.net", MessageCorpus.Get("plain-ascii.eml").Content);

        // swaks exits with 24 when no recipient was accepted.
        Assert.True(result.ExitCode == 24, result.Transcript);
        Assert.Contains("<** 550 5.7.1", result.Stdout);
    }

    /// <summary>
    /// Runs swaks with its default DATA handling. swaks appends CRLF "." CRLF to the data it is given, so a file
    /// that ends with CRLF would arrive with one extra empty line: the file passed to it has its final CRLF removed.
    /// swaks also replaces the tokens %DATE% and friends and literal backslash-n sequences, which no message sent
    /// here contains.
    /// </summary>
    private async Task<ToolResult> RunSwaksAsync(int port, string recipients, byte[] message)
    {
        var text = Encoding.Latin1.GetString(message);
        Assert.DoesNotContain("\\n", text);
        Assert.DoesNotContain("%NEW", text);
        Assert.False(text.StartsWith("From ", StringComparison.Ordinal), "swaks strips a leading From_ line.");

        var file = Path.Combine(Dovecot.RootDirectory, $"swaks-{Guid.NewGuid():N}.eml");
        await File.WriteAllBytesAsync(file, message[..^2]);
        try
        {
            var swaks = ExternalTool.Locate("swaks", "swaks");
            var result = await ExternalTool.RunAsync(
                swaks,
                new[]
                {
                    "--server", $"127.0.0.1:{port}", "--helo", "swaks.e2e.test", "--from", Sender,
                    "--to", recipients, "--timeout", "120", "--data", "@" + file,
                },
                ToolTimeout);
            Output.WriteLine(result.Transcript);
            return result;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Returns the part of swaks' transcript after the end of DATA, where the reply to the final dot is.</summary>
    private static string LastReplyBlock(string transcript)
    {
        var dot = transcript.LastIndexOf(" -> .\n", StringComparison.Ordinal);
        return dot < 0 ? transcript : transcript[dot..];
    }
}

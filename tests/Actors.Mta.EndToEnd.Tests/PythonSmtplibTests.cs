using System.Text.Json;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>Sends corpus messages with Python's smtplib, including MAIL parameters swaks cannot send.</summary>
public sealed class PythonSmtplibTests : EndToEndTest
{
    private const string Sender = "python@example.net";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(120);

    public PythonSmtplibTests(EndToEndFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    public static IEnumerable<object[]> Messages => new[]
    {
        new object[] { "plain-ascii.eml", "" },
        new object[] { "lone-dot-last-line.eml", "" },
        new object[] { "iso-8859-1-8bit-body.eml", "BODY=8BITMIME" },
        new object[] { "utf8-raw-headers.eml", "SMTPUTF8 BODY=8BITMIME" },
        new object[] { "generated-large-8bit-utf8.eml", "SMTPUTF8 BODY=8BITMIME" },
        new object[] { "generated-998-octet-lines.eml", "" },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task Smtplib_DeliversMessageUnchanged(string name, string mailOptions)
    {
        var message = MessageCorpus.Get(name).Content;
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var (result, outcome) = await RunSmtplibAsync(server.Port, new[] { "bob@example.com" }, mailOptions, message);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal("sent", outcome.GetProperty("result").GetString());
        AssertDeliveredExactly(mark, "bob@example.com", message, Sender);
    }

    [Fact]
    public async Task Smtplib_UnacceptedDomainRefused()
    {
        var server = await ServerAsync();

        var (result, outcome) = await RunSmtplibAsync(
            server.Port, new[] { "someone@example.net" }, "", MessageCorpus.Get("plain-ascii.eml").Content);

        Assert.True(result.ExitCode == 2, result.Transcript);
        var refused = outcome.GetProperty("refused").GetProperty("someone@example.net");
        Assert.Equal(550, refused[0].GetInt32());
        Assert.StartsWith("5.7.1", refused[1].GetString());
    }

    [Fact]
    public async Task Smtplib_MixedDomainsOnlyAcceptedDelivered()
    {
        var message = MessageCorpus.Get("calendar-invite.eml").Content;
        var server = await ServerAsync();
        var mark = Dovecot.Mark();

        var (result, outcome) = await RunSmtplibAsync(
            server.Port, new[] { "alice@example.com", "elsewhere@example.net" }, "", message);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal(550, outcome.GetProperty("refused").GetProperty("elsewhere@example.net")[0].GetInt32());
        AssertDeliveredExactly(mark, "alice@example.com", message, Sender);
    }

    private async Task<(ToolResult Result, JsonElement Outcome)> RunSmtplibAsync(
        int port, IEnumerable<string> recipients, string mailOptions, byte[] message)
    {
        var file = Path.Combine(Dovecot.RootDirectory, $"smtplib-{Guid.NewGuid():N}.eml");
        await File.WriteAllBytesAsync(file, message);
        try
        {
            var arguments = new List<string>
            {
                Path.Combine(AppContext.BaseDirectory, "Scripts", "smtplib_send.py"),
                "--port", port.ToString(), "--sender", Sender, "--file", file,
            };
            foreach (var recipient in recipients)
            {
                arguments.Add("--recipient");
                arguments.Add(recipient);
            }

            foreach (var option in mailOptions.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                arguments.Add("--mail-option=" + option);
            }

            var python = ExternalTool.Locate("python3", "python3");
            var result = await ExternalTool.RunAsync(python, arguments, ToolTimeout);
            Output.WriteLine(result.Transcript);

            var lastLine = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
            Assert.True(lastLine is not null, result.Transcript);
            return (result, JsonDocument.Parse(lastLine).RootElement.Clone());
        }
        finally
        {
            File.Delete(file);
        }
    }
}

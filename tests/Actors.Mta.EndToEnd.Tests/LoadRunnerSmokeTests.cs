using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Actors.Mta.LoadRunner;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// A short run of the perf load runner against the server, so the runner, its SMTP client and its JSON report
/// keep working as the server changes. It checks counts only, never speed.
/// </summary>
public sealed class LoadRunnerSmokeTests(ITestOutputHelper output)
{
    private const int Messages = 50;
    private const int RecipientsPerMessage = 2;

    [Fact]
    public async Task LoadRunner_FiftyMessagesAllAccepted()
    {
        var directory = Directory.CreateTempSubdirectory("actors-mta-loadrunner-").FullName;
        var sink = Path.Combine(directory, "sink");
        var reportDirectory = Path.Combine(directory, "report");
        var progress = new StringWriter();
        try
        {
            await using var server = await ServerProcess.StartAsync("dev-sink:" + sink, "actors-mta.verification.enabled = off");
            try
            {
                // Pipelining and two recipients exercise the runner's pipelined envelope and its RCPT handling.
                string[] args =
                [
                    "--target", $"127.0.0.1:{server.Port}", "--sessions", "5", "--messages", Messages.ToString(),
                    "--size", "2048", "--recipients", RecipientsPerMessage.ToString(), "--to", "alice@example.com",
                    "--pipelining", "--duration", "90s", "--timeout", "30s", "--report-dir", reportDirectory, "--no-progress",
                ];
                var exitCode = await LoadRunnerCommand.RunAsync(args, TextWriter.Null, progress, overwriteProgress: false, CancellationToken.None);
                var report = LoadRunnerCommand.ReadReport(reportDirectory);
                var delivered = Directory.Exists(sink) ? Directory.GetFiles(sink, "*.eml", SearchOption.AllDirectories).Length : 0;

                Assert.Equal(0, exitCode);
                Assert.Equal(Messages, report.Totals.MessagesAccepted);
                Assert.Equal(0, report.Totals.MessagesFailed);
                Assert.Equal(0, report.Totals.FailedSteps);
                Assert.True(File.Exists(Path.Combine(reportDirectory, LoadRunnerCommand.MarkdownReportName)), "report.md is missing");
                Assert.True(File.Exists(Path.Combine(reportDirectory, LoadRunnerCommand.HtmlReportName)), "report.html is missing");
                Assert.Equal(Messages * RecipientsPerMessage, delivered);
            }
            finally
            {
                output.WriteLine(progress.ToString());
                output.WriteLine("--- server output, last 40 lines");
                output.WriteLine(string.Join('\n', server.Output.ToString().Split('\n').TakeLast(40)));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

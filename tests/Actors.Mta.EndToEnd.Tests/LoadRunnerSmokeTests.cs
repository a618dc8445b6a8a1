using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Actors.Mta.LoadRunner;
using Actors.Mta.LoadRunner.Scenarios;
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
    private const int OpenModelMessages = 20;

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

    [Fact]
    public async Task LoadRunner_OpenModelOneMessagePerSession()
    {
        var directory = Directory.CreateTempSubdirectory("actors-mta-loadrunner-").FullName;
        var sink = Path.Combine(directory, "sink");
        var reportDirectory = Path.Combine(directory, "report");
        var progress = new StringWriter();
        try
        {
            // The open model starts sessions on a clock, not when earlier ones end. While a fresh server's first
            // transactions are slow, more than 20 can be open at once, and the default per-client limit would
            // answer them 421 at connect. So the limits are lifted, as perf/compare.sh does.
            await using var server = await ServerProcess.StartAsync("dev-sink:" + sink, "actors-mta.verification.enabled = off",
                "actors-mta.limits.max-connections-per-client = 0", "actors-mta.limits.max-connection-rate-per-client = 0");
            try
            {
                // The message cap ends the run long before the duration, so the count is exact. perf/compare.sh
                // reads the transaction step of this model for its latency at half of the peak rate.
                string[] args =
                [
                    "--target", $"127.0.0.1:{server.Port}", "--rate", "50", "--messages", OpenModelMessages.ToString(),
                    "--size", "2048", "--to", "alice@example.com", "--duration", "90s", "--timeout", "30s",
                    "--report-dir", reportDirectory, "--no-progress",
                ];
                var exitCode = await LoadRunnerCommand.RunAsync(args, TextWriter.Null, progress, overwriteProgress: false, CancellationToken.None);
                var report = LoadRunnerCommand.ReadReport(reportDirectory);
                var transaction = report.Scenarios[0].Steps.Single(step => step.Name == Scenario.TransactionStepName);
                var delivered = Directory.Exists(sink) ? Directory.GetFiles(sink, "*.eml", SearchOption.AllDirectories).Length : 0;

                Assert.Equal(0, exitCode);
                Assert.Equal("open", report.Settings.LoadModel);
                Assert.Equal(1, report.Settings.MessagesPerSession);
                Assert.Equal(OpenModelMessages, report.Totals.MessagesAccepted);
                Assert.Equal(0, report.Totals.MessagesFailed);
                Assert.Equal(0, report.Totals.SessionsFailed);
                Assert.Equal(0, report.Totals.SessionsNotStarted);
                Assert.True(report.Totals.SessionsOpened >= OpenModelMessages, $"only {report.Totals.SessionsOpened} sessions opened");
                Assert.Equal(OpenModelMessages, transaction.Ok);
                Assert.True(transaction.LatencyMs.P99 > 0, "the transaction step has no p99");
                Assert.Equal(OpenModelMessages, delivered);
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

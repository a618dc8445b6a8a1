using System.Globalization;
using System.Text.Json;
using Actors.Mta.LoadRunner.Load;
using Actors.Mta.LoadRunner.Messages;
using Actors.Mta.LoadRunner.Reports;
using Actors.Mta.LoadRunner.Results;
using Actors.Mta.LoadRunner.Scenarios;

namespace Actors.Mta.LoadRunner;

/// <summary>The runner as a command: parse the options, run the load with a progress line, write the reports.</summary>
public static class LoadRunnerCommand
{
    public const string JsonReportName = "report.json";
    public const string MarkdownReportName = "report.md";
    public const string HtmlReportName = "report.html";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>Runs the command; returns the exit status (0 when the run completed, 2 for invalid options).</summary>
    /// <param name="progress">Where the progress line and the summary go (stderr for the executable).</param>
    /// <param name="overwriteProgress">Rewrite the progress line in place (a terminal) instead of printing a line each time.</param>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args, TextWriter output, TextWriter progress, bool overwriteProgress, CancellationToken cancellationToken)
    {
        if (args.Count == 0 || args.Contains("--help") || args.Contains("-h"))
        {
            await output.WriteLineAsync(RunnerOptions.Usage);
            return args.Count == 0 ? 2 : 0;
        }

        RunnerOptions options;
        Scenario scenario;
        MessageSource? messages;
        try
        {
            options = RunnerOptions.Parse(args);
            var settings = new SmtpScenarioSettings(options.Helo, options.From, options.Scenario == SmtpScenarios.SendName ? options.RecipientsPerMessage() : [], options.Pipelining);
            scenario = options.Scenario == SmtpScenarios.HoldName ? SmtpScenarios.Hold(settings) : SmtpScenarios.Send(settings);
            messages = CreateMessageSource(options);
        }
        catch (Exception e) when (e is UsageException or ArgumentException or IOException)
        {
            await progress.WriteLineAsync($"error: {e.Message}\nRun with --help for the options.");
            return 2;
        }

        var startedAt = DateTimeOffset.UtcNow;
        var engine = new LoadEngine(options, scenario, messages);
        using var progressStop = new CancellationTokenSource();
        var progressLoop = options.Progress
            ? ReportProgressAsync(engine, progress, overwriteProgress, progressStop.Token)
            : Task.CompletedTask;

        await engine.RunAsync(options.ReadyFile is { } readyFile ? () => WriteReadyFile(readyFile, engine) : null, cancellationToken);
        progressStop.Cancel();
        await progressLoop;

        var report = engine.BuildReport(options.Title!, startedAt, DescribeSettings(options, messages));
        var directory = Path.GetFullPath(options.ReportDirectory);
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, JsonReportName), JsonSerializer.Serialize(report, JsonOptions), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, MarkdownReportName), MarkdownReport.Render(report), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, HtmlReportName), HtmlReport.Render(report), cancellationToken);

        var totals = report.Totals;
        var main = report.Scenarios[0].Steps.FirstOrDefault(step => step.Name == Scenario.TransactionStepName) ?? report.Scenarios[0].Steps[0];
        await progress.WriteLineAsync(
            $"done: {totals.MessagesAccepted} messages accepted, {totals.MessagesFailed} failed, {totals.FailedSteps} failed steps; " +
            $"{ReportFormat.Rate(totals.MessagesPerSecond)} msg/s measured; {main.Name} p50 {ReportFormat.Milliseconds(main.LatencyMs.P50)} ms, " +
            $"p99 {ReportFormat.Milliseconds(main.LatencyMs.P99)} ms; reports in {directory}");
        return 0;
    }

    /// <summary>Loads the JSON report that a run wrote to <paramref name="reportDirectory"/>.</summary>
    public static RunReport ReadReport(string reportDirectory)
    {
        var json = File.ReadAllText(Path.Combine(reportDirectory, JsonReportName));
        return JsonSerializer.Deserialize<RunReport>(json, JsonOptions)
               ?? throw new InvalidDataException($"{JsonReportName} in {reportDirectory} is empty.");
    }

    private static MessageSource? CreateMessageSource(RunnerOptions options)
    {
        if (options.Scenario != SmtpScenarios.SendName)
        {
            return null;
        }

        return options.Corpus is { } corpus
            ? new CorpusMessageSource(corpus)
            : new GeneratedMessageSource(options.Size, options.From, options.To[0], Guid.NewGuid().ToString("N")[..8]);
    }

    private static RunSettingsReport DescribeSettings(RunnerOptions options, MessageSource? messages) => new(
        Target: options.Target.ToString(),
        Scenario: options.Scenario,
        LoadModel: options.IsOpenModel ? "open" : "closed",
        Sessions: options.IsOpenModel ? 0 : options.Sessions,
        SessionsPerSecond: options.Rate,
        MaxSessions: options.MaxSessions,
        RampSeconds: options.Ramp.TotalSeconds,
        DurationLimitSeconds: options.Duration.TotalSeconds,
        MessageLimit: options.Messages,
        MessagesPerSession: options.MessagesPerSession,
        MessageSize: messages?.MaxMessageSize ?? 0,
        Corpus: options.Corpus,
        RecipientsPerMessage: options.Recipients,
        Pipelining: options.Pipelining,
        ReplyTimeoutSeconds: options.Timeout.TotalSeconds,
        CommandLine: options.CommandLine);

    private static void WriteReadyFile(string path, LoadEngine engine)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"opened={engine.SessionsOpened} failed_steps={engine.FailedSteps} elapsed_s={engine.Elapsed.TotalSeconds:0.000}\n");
        File.WriteAllText(path + ".tmp", line);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static async Task ReportProgressAsync(LoadEngine engine, TextWriter progress, bool overwrite, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var last = engine.MainStep.LastClosedSecond();
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"[{engine.Elapsed.TotalSeconds,6:0}s] sessions {engine.ActiveSessions} | accepted {engine.MessagesAccepted}, " +
                    $"failed {engine.MessagesFailed} | {engine.MainStep.Name} last second: {last?.Ok ?? 0} ok, " +
                    $"p99 {ReportFormat.Milliseconds(last?.P99Ms ?? 0)} ms{(engine.InWarmup ? " | warm-up" : "")}");
                await progress.WriteAsync(overwrite ? "\r" + line.PadRight(110) : line + "\n");
            }
        }
        catch (OperationCanceledException)
        {
            // The run ended.
        }

        if (overwrite)
        {
            await progress.WriteLineAsync();
        }
    }
}

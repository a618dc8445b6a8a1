using System.Text;
using Actors.Mta.LoadRunner.Results;
using static Actors.Mta.LoadRunner.Reports.ReportFormat;

namespace Actors.Mta.LoadRunner.Reports;

/// <summary>Renders a <see cref="RunReport"/> as Markdown: settings, totals, one table row per step, failures, warnings.</summary>
public static class MarkdownReport
{
    public static string Render(RunReport report)
    {
        var text = new StringBuilder();
        var settings = report.Settings;
        var totals = report.Totals;
        text.AppendLine($"# {report.Title}").AppendLine();
        text.AppendLine($"Started {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, ran {Seconds(report.ElapsedSeconds)} s; " +
                        $"warm-up {Seconds(report.WarmupSeconds)} s; measured {Seconds(report.MeasuredSeconds)} s.").AppendLine();
        text.AppendLine($"Command line: `{settings.CommandLine}`").AppendLine();

        text.AppendLine("| setting | value |").AppendLine("| --- | --- |");
        text.AppendLine($"| target | {settings.Target} |");
        text.AppendLine($"| scenario | {settings.Scenario} |");
        text.AppendLine($"| load | {DescribeLoad(settings)} |");
        text.AppendLine($"| limits | {Seconds(settings.DurationLimitSeconds)} s or {Count(settings.MessageLimit)} messages |");
        text.AppendLine($"| messages per session | {(settings.MessagesPerSession == 0 ? "all (one connection)" : Count(settings.MessagesPerSession))} |");
        text.AppendLine($"| message | {(settings.Corpus is null ? $"{Count(settings.MessageSize)} bytes, generated" : $"corpus {settings.Corpus}, largest {Count(settings.MessageSize)} bytes")} |");
        text.AppendLine($"| recipients per message | {settings.RecipientsPerMessage} |");
        text.AppendLine($"| pipelining | {(settings.Pipelining ? "requested" : "off")} |");
        text.AppendLine();

        text.AppendLine("## Totals").AppendLine();
        text.AppendLine("| messages accepted | messages failed | accepted/s (measured) | sessions started | sessions opened | sessions failed | failed steps |");
        text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        text.AppendLine($"| {Count(totals.MessagesAccepted)} | {Count(totals.MessagesFailed)} | {Rate(totals.MessagesPerSecond)} | " +
                        $"{Count(totals.SessionsStarted)} | {Count(totals.SessionsOpened)} | {Count(totals.SessionsFailed)} | {Count(totals.FailedSteps)} |");
        text.AppendLine();

        foreach (var scenario in report.Scenarios)
        {
            text.AppendLine($"## Scenario {scenario.Name}").AppendLine();
            text.AppendLine("Latency in milliseconds, over the measured window.").AppendLine();
            text.AppendLine("| step | count | ok | failed | req/s | p50 | p75 | p95 | p99 | max | bytes/s |");
            text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var step in scenario.Steps)
            {
                var latency = step.LatencyMs;
                text.AppendLine($"| {step.Name} | {Count(step.Count)} | {Count(step.Ok)} | {Count(step.Failed)} | {Rate(step.RequestsPerSecond)} | " +
                                $"{Milliseconds(latency.P50)} | {Milliseconds(latency.P75)} | {Milliseconds(latency.P95)} | " +
                                $"{Milliseconds(latency.P99)} | {Milliseconds(latency.Max)} | {BytesPerSecond(step.BytesPerSecond)} |");
            }

            text.AppendLine();
            var failing = scenario.Steps.Where(step => step.Failures.Count > 0).ToList();
            if (failing.Count > 0)
            {
                text.AppendLine("### Failures by reply code").AppendLine();
                text.AppendLine("| step | failures |").AppendLine("| --- | --- |");
                foreach (var step in failing)
                {
                    text.AppendLine($"| {step.Name} | {Failures(step.Failures)} |");
                }

                text.AppendLine();
            }
        }

        if (report.Warnings.Count > 0)
        {
            text.AppendLine("## Warnings").AppendLine();
            foreach (var warning in report.Warnings)
            {
                text.AppendLine($"- {warning}");
            }

            text.AppendLine();
        }

        return text.ToString();
    }

    public static string DescribeLoad(RunSettingsReport settings)
    {
        var ramp = settings.RampSeconds > 0 ? $", ramped over {Seconds(settings.RampSeconds)} s" : "";
        return settings.LoadModel == "open"
            ? $"open: {Rate(settings.SessionsPerSecond)} new sessions/s, at most {settings.MaxSessions} open{ramp}"
            : $"closed: {settings.Sessions} concurrent sessions{ramp}";
    }
}

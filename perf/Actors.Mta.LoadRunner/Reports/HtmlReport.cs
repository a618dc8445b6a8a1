using System.Net;
using System.Text;
using Actors.Mta.LoadRunner.Results;
using Actors.Mta.LoadRunner.Scenarios;
using static Actors.Mta.LoadRunner.Reports.ReportFormat;

namespace Actors.Mta.LoadRunner.Reports;

/// <summary>
/// Renders a <see cref="RunReport"/> as one self-contained HTML page: the tables of the Markdown report and, for
/// each scenario, latency over time (p50, p99 and max per second, logarithmic) and throughput over time.
/// </summary>
public static class HtmlReport
{
    public static string Render(RunReport report)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>");
        html.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.AppendLine($"<title>{Escape(report.Title)}</title>");
        html.AppendLine("<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}" +
                        "th,td{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right}th{background:#f4f4f4}code{background:#f4f4f4}</style>");
        html.AppendLine("</head><body>");
        html.AppendLine($"<h1>{Escape(report.Title)}</h1>");
        html.AppendLine($"<p>Started {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, ran {Seconds(report.ElapsedSeconds)} s; " +
                        $"warm-up {Seconds(report.WarmupSeconds)} s; measured {Seconds(report.MeasuredSeconds)} s. " +
                        $"Load: {Escape(MarkdownReport.DescribeLoad(report.Settings))}.</p>");
        html.AppendLine($"<p>Command line: <code>{Escape(report.Settings.CommandLine)}</code></p>");

        var totals = report.Totals;
        html.AppendLine("<h2>Totals</h2><table><tr><th>messages accepted</th><th>messages failed</th><th>accepted/s (measured)</th>" +
                        "<th>sessions started</th><th>sessions opened</th><th>sessions failed</th><th>failed steps</th></tr>");
        html.AppendLine($"<tr><td class=n>{Count(totals.MessagesAccepted)}</td><td class=n>{Count(totals.MessagesFailed)}</td>" +
                        $"<td class=n>{Rate(totals.MessagesPerSecond)}</td><td class=n>{Count(totals.SessionsStarted)}</td>" +
                        $"<td class=n>{Count(totals.SessionsOpened)}</td><td class=n>{Count(totals.SessionsFailed)}</td>" +
                        $"<td class=n>{Count(totals.FailedSteps)}</td></tr></table>");

        foreach (var scenario in report.Scenarios)
        {
            AppendScenario(html, report, scenario);
        }

        if (report.Warnings.Count > 0)
        {
            html.AppendLine("<h2>Warnings</h2><ul>");
            foreach (var warning in report.Warnings)
            {
                html.AppendLine($"<li>{Escape(warning)}</li>");
            }

            html.AppendLine("</ul>");
        }

        html.AppendLine("</body></html>");
        return html.ToString();
    }

    private static void AppendScenario(StringBuilder html, RunReport report, ScenarioReport scenario)
    {
        html.AppendLine($"<h2>Scenario {Escape(scenario.Name)}</h2>");
        html.AppendLine("<table><tr><th>step</th><th>count</th><th>ok</th><th>failed</th><th>req/s</th><th>p50 ms</th><th>p75 ms</th>" +
                        "<th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>bytes/s</th><th>failures</th></tr>");
        foreach (var step in scenario.Steps)
        {
            var latency = step.LatencyMs;
            html.AppendLine($"<tr><td>{Escape(step.Name)}</td><td class=n>{Count(step.Count)}</td><td class=n>{Count(step.Ok)}</td>" +
                            $"<td class=n>{Count(step.Failed)}</td><td class=n>{Rate(step.RequestsPerSecond)}</td>" +
                            $"<td class=n>{Milliseconds(latency.P50)}</td><td class=n>{Milliseconds(latency.P75)}</td>" +
                            $"<td class=n>{Milliseconds(latency.P95)}</td><td class=n>{Milliseconds(latency.P99)}</td>" +
                            $"<td class=n>{Milliseconds(latency.Max)}</td><td class=n>{BytesPerSecond(step.BytesPerSecond)}</td>" +
                            $"<td>{Escape(Failures(step.Failures))}</td></tr>");
        }

        html.AppendLine("</table>");

        var main = scenario.Steps.FirstOrDefault(step => step.Name == Scenario.TransactionStepName) ?? scenario.Steps[0];
        var withSamples = main.Series.Where(point => point.Ok + point.Failed > 0).ToList();
        var latencyChart = new SvgChart
        {
            Title = $"{main.Name} latency per second",
            XLabel = "seconds since start",
            YLabel = "ms (log scale)",
            LogarithmicY = true,
            WarmupEnd = report.WarmupSeconds,
            Series =
            [
                new ChartSeries("p50", "#1f77b4", withSamples.Select(point => (point.Second + 1.0, point.P50Ms)).ToList()),
                new ChartSeries("p99", "#d62728", withSamples.Select(point => (point.Second + 1.0, point.P99Ms)).ToList()),
                new ChartSeries("max", "#aaaaaa", withSamples.Select(point => (point.Second + 1.0, point.MaxMs)).ToList()),
            ],
        };
        var throughputChart = new SvgChart
        {
            Title = $"{main.Name} throughput per second",
            XLabel = "seconds since start",
            YLabel = "per second",
            WarmupEnd = report.WarmupSeconds,
            Series =
            [
                new ChartSeries("ok", "#2ca02c", main.Series.Select(point => (point.Second + 1.0, (double)point.Ok)).ToList()),
                new ChartSeries("failed", "#d62728", main.Series.Select(point => (point.Second + 1.0, (double)point.Failed)).ToList()),
            ],
        };
        html.AppendLine("<p>Each point is one second of the run, at the second's end, warm-up included.</p>");
        html.AppendLine(latencyChart.Render());
        html.AppendLine(throughputChart.Render());
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}

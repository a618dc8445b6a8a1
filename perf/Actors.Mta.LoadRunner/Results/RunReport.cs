using HdrHistogram;

namespace Actors.Mta.LoadRunner.Results;

/// <summary>The result of a run, as written to report.json and rendered in the Markdown and HTML reports.</summary>
/// <param name="FormatVersion">Raised when a field changes meaning or is removed.</param>
/// <param name="MeasuredSeconds">From the end of the warm-up to the end of the last measured sample: the divisor of every rate.</param>
public sealed record RunReport(
    string Tool,
    int FormatVersion,
    string Title,
    DateTimeOffset StartedAt,
    RunSettingsReport Settings,
    double ElapsedSeconds,
    double WarmupSeconds,
    double MeasuredSeconds,
    RunTotals Totals,
    IReadOnlyList<ScenarioReport> Scenarios,
    IReadOnlyList<string> Warnings);

/// <summary>The options of the run, as given or defaulted.</summary>
public sealed record RunSettingsReport(
    string Target,
    string Scenario,
    string LoadModel,
    int Sessions,
    double SessionsPerSecond,
    int MaxSessions,
    double RampSeconds,
    double DurationLimitSeconds,
    long MessageLimit,
    int MessagesPerSession,
    long MessageSize,
    string? Corpus,
    int RecipientsPerMessage,
    bool Pipelining,
    double ReplyTimeoutSeconds,
    string CommandLine);

/// <summary>
/// Counts over the whole run. Messages are transactions: accepted when the reply to the data was 2xx. The
/// Measured counts leave out the warm-up, and <see cref="MessagesPerSecond"/> is measured accepted messages per
/// measured second. <see cref="FailedSteps"/> counts every failed step of every session, warm-up included.
/// </summary>
public sealed record RunTotals(
    long SessionsStarted,
    long SessionsFailed,
    long SessionsOpened,
    long MessagesStarted,
    long MessagesAccepted,
    long MessagesFailed,
    long MeasuredMessagesAccepted,
    long MeasuredMessagesFailed,
    double MessagesPerSecond,
    long FailedSteps,
    long BytesSent,
    long BytesReceived,
    long SessionsNotStarted);

public sealed record ScenarioReport(string Name, IReadOnlyList<StepReport> Steps);

/// <summary>
/// One step's figures over the measured window; <see cref="TotalOk"/> and <see cref="TotalFailed"/> include the
/// warm-up. <see cref="RequestsPerSecond"/> counts ok and failed samples.
/// </summary>
public sealed record StepReport(
    string Name,
    long Count,
    long Ok,
    long Failed,
    double RequestsPerSecond,
    double BytesPerSecond,
    LatencyReport LatencyMs,
    IReadOnlyDictionary<string, long> Failures,
    long TotalOk,
    long TotalFailed,
    IReadOnlyList<SeriesPoint> Series);

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencyReport(double Mean, double P50, double P75, double P95, double P99, double Max)
{
    public static readonly LatencyReport Empty = new(0, 0, 0, 0, 0, 0);

    /// <summary>Reads the percentiles of a histogram of microseconds.</summary>
    public static LatencyReport From(HistogramBase histogram) => new(
        histogram.GetMean() / 1000.0,
        histogram.GetValueAtPercentile(50) / 1000.0,
        histogram.GetValueAtPercentile(75) / 1000.0,
        histogram.GetValueAtPercentile(95) / 1000.0,
        histogram.GetValueAtPercentile(99) / 1000.0,
        histogram.GetMaxValue() / 1000.0);
}

/// <summary>One second of the run: samples that ended in it, ok and failed, and their latency in milliseconds.</summary>
public sealed record SeriesPoint(int Second, long Ok, long Failed, double P50Ms, double P99Ms, double MaxMs);

using System.Diagnostics;
using HdrHistogram;

namespace Actors.Mta.LoadRunner.Results;

/// <summary>
/// The samples of one step, thread-safe: latencies in an HdrHistogram (microseconds, 3 significant digits),
/// counts, failures by key and bytes. Samples that start before the warm-up ends only count in the totals and
/// the time series. The time series has one point per second of the run, by the time each sample ended.
/// </summary>
public sealed class StepStatistics
{
    /// <summary>Longest latency recorded as itself, in microseconds (one hour); longer ones are recorded as this.</summary>
    private const long HighestLatencyMicroseconds = 3_600_000_000;

    private readonly object gate = new();
    private readonly long runStart;
    private readonly long warmupEnd;
    private readonly LongHistogram measured = new(HighestLatencyMicroseconds, 3);
    private readonly LongHistogram interval = new(HighestLatencyMicroseconds, 2);
    private readonly Dictionary<string, long> failures = new(StringComparer.Ordinal);
    private readonly List<SeriesPoint> series = [];
    private int intervalSecond;
    private long intervalOk;
    private long intervalFailed;

    public StepStatistics(string name, long runStart, long warmupEnd)
    {
        Name = name;
        this.runStart = runStart;
        this.warmupEnd = warmupEnd;
    }

    public string Name { get; }

    public long MeasuredOk { get; private set; }

    public long MeasuredFailed { get; private set; }

    public long MeasuredBytes { get; private set; }

    public long TotalOk { get; private set; }

    public long TotalFailed { get; private set; }

    /// <summary>Stopwatch timestamp at which the last measured sample ended, or 0 before the first one.</summary>
    public long LastMeasuredEnd { get; private set; }

    /// <summary>Records one sample. Timestamps are <see cref="Stopwatch.GetTimestamp"/> values.</summary>
    public void Record(long start, long end, bool ok, string? failureKey, long bytes)
    {
        var micros = Math.Clamp((long)((end - start) * 1_000_000.0 / Stopwatch.Frequency), 0, HighestLatencyMicroseconds);
        var second = (int)((end - runStart) / Stopwatch.Frequency);
        lock (gate)
        {
            if (ok)
            {
                TotalOk++;
            }
            else
            {
                TotalFailed++;
            }

            AdvanceInterval(second);
            interval.RecordValue(micros);
            if (ok)
            {
                intervalOk++;
            }
            else
            {
                intervalFailed++;
            }

            if (start < warmupEnd)
            {
                return;
            }

            measured.RecordValue(micros);
            MeasuredBytes += bytes;
            LastMeasuredEnd = Math.Max(LastMeasuredEnd, end);
            if (ok)
            {
                MeasuredOk++;
            }
            else
            {
                MeasuredFailed++;
                var key = failureKey ?? "unknown";
                failures[key] = failures.GetValueOrDefault(key) + 1;
            }
        }
    }

    /// <summary>Returns the time series so far; <paramref name="throughSecond"/> closes the seconds before it even without new samples.</summary>
    public IReadOnlyList<SeriesPoint> Series(int throughSecond)
    {
        lock (gate)
        {
            AdvanceInterval(throughSecond);
            return series.ToList();
        }
    }

    /// <summary>Returns the point of the last second already closed, or null in the first second.</summary>
    public SeriesPoint? LastClosedSecond()
    {
        lock (gate)
        {
            return series.Count > 0 ? series[^1] : null;
        }
    }

    public StepReport ToReport(double measuredSeconds, int throughSecond)
    {
        lock (gate)
        {
            var count = MeasuredOk + MeasuredFailed;
            return new StepReport(
                Name,
                count,
                MeasuredOk,
                MeasuredFailed,
                measuredSeconds > 0 ? count / measuredSeconds : 0,
                measuredSeconds > 0 ? MeasuredBytes / measuredSeconds : 0,
                count > 0 ? LatencyReport.From(measured) : LatencyReport.Empty,
                new SortedDictionary<string, long>(failures, StringComparer.Ordinal),
                TotalOk,
                TotalFailed,
                Series(throughSecond));
        }
    }

    /// <summary>Closes the interval of past seconds into the series, filling seconds without samples with zeros.</summary>
    private void AdvanceInterval(int second)
    {
        // A sample that ends in an earlier second than the open one (threads race) counts in the open second.
        while (intervalSecond < second)
        {
            series.Add(new SeriesPoint(
                intervalSecond,
                intervalOk,
                intervalFailed,
                interval.TotalCount > 0 ? interval.GetValueAtPercentile(50) / 1000.0 : 0,
                interval.TotalCount > 0 ? interval.GetValueAtPercentile(99) / 1000.0 : 0,
                interval.TotalCount > 0 ? interval.GetMaxValue() / 1000.0 : 0));
            interval.Reset();
            intervalOk = 0;
            intervalFailed = 0;
            intervalSecond++;
        }
    }
}

using System.Globalization;

namespace Actors.Mta.LoadRunner.Reports;

/// <summary>Number formats shared by the reports: invariant culture, so reports compare across machines.</summary>
internal static class ReportFormat
{
    public static string Milliseconds(double value) => value switch
    {
        0 => "0",
        < 1 => value.ToString("0.000", CultureInfo.InvariantCulture),
        < 100 => value.ToString("0.00", CultureInfo.InvariantCulture),
        _ => value.ToString("0", CultureInfo.InvariantCulture),
    };

    public static string Rate(double value) => value.ToString(value < 10 ? "0.00" : "0", CultureInfo.InvariantCulture);

    public static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Seconds(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>Bytes per second as KB/s or MB/s (1024-based).</summary>
    public static string BytesPerSecond(double value) => value >= 1024 * 1024
        ? (value / (1024 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " MB/s"
        : (value / 1024).ToString("0.0", CultureInfo.InvariantCulture) + " KB/s";

    public static string Failures(IReadOnlyDictionary<string, long> failures) =>
        failures.Count == 0 ? "" : string.Join(", ", failures.Select(pair => $"{pair.Key}: {pair.Value}"));
}

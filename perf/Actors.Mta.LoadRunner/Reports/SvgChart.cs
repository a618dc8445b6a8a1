using System.Globalization;
using System.Net;
using System.Text;

namespace Actors.Mta.LoadRunner.Reports;

/// <summary>A line of a chart: one y value per x, in the chart's units.</summary>
public sealed record ChartSeries(string Label, string Color, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// A line chart drawn as inline SVG, so the HTML report needs no script or download: axes with ticks, a legend,
/// and a shaded band for the warm-up. A logarithmic y axis suits latencies that span several decades.
/// </summary>
public sealed class SvgChart
{
    private const int Width = 900;
    private const int Height = 300;
    private const int Left = 70;
    private const int Right = 20;
    private const int Top = 30;
    private const int Bottom = 45;

    public required string Title { get; init; }

    public required string XLabel { get; init; }

    public required string YLabel { get; init; }

    public bool LogarithmicY { get; init; }

    /// <summary>End of the warm-up band on the x axis, or 0 for none.</summary>
    public double WarmupEnd { get; init; }

    public required IReadOnlyList<ChartSeries> Series { get; init; }

    public string Render()
    {
        var points = Series.SelectMany(series => series.Points).ToList();
        var xMax = Math.Max(1, points.Count > 0 ? points.Max(point => point.X) : 1);
        var positive = points.Where(point => point.Y > 0).Select(point => point.Y).ToList();
        var (yMin, yMax) = LogarithmicY
            ? (Math.Pow(10, Math.Floor(Math.Log10(positive.Count > 0 ? positive.Min() : 0.1))),
               Math.Pow(10, Math.Ceiling(Math.Log10(positive.Count > 0 ? positive.Max() : 1))))
            : (0, NiceCeiling(points.Count > 0 ? points.Max(point => point.Y) : 1));
        if (yMax <= yMin)
        {
            yMax = LogarithmicY ? yMin * 10 : yMin + 1;
        }

        double X(double x) => Left + (Width - Left - Right) * x / xMax;
        double Y(double y)
        {
            var fraction = LogarithmicY
                ? (Math.Log10(Math.Max(y, yMin)) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin))
                : (y - yMin) / (yMax - yMin);
            return Height - Bottom - (Height - Top - Bottom) * fraction;
        }

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append($"<text x=\"{Width / 2}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{Escape(Title)}</text>");
        if (WarmupEnd > 0)
        {
            var warmupRight = X(Math.Min(WarmupEnd, xMax));
            svg.Append($"<rect x=\"{F(Left)}\" y=\"{Top}\" width=\"{F(warmupRight - Left)}\" height=\"{Height - Top - Bottom}\" fill=\"#eeeeee\"/>");
            svg.Append($"<text x=\"{F(Left + 4)}\" y=\"{Top + 12}\" fill=\"#777777\">warm-up</text>");
        }

        foreach (var tick in YTicks(yMin, yMax))
        {
            var y = Y(tick);
            svg.Append($"<line x1=\"{Left}\" y1=\"{F(y)}\" x2=\"{Width - Right}\" y2=\"{F(y)}\" stroke=\"#dddddd\"/>");
            svg.Append($"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{Tick(tick)}</text>");
        }

        foreach (var tick in XTicks(xMax))
        {
            var x = X(tick);
            svg.Append($"<line x1=\"{F(x)}\" y1=\"{Height - Bottom}\" x2=\"{F(x)}\" y2=\"{Height - Bottom + 4}\" stroke=\"#333333\"/>");
            svg.Append($"<text x=\"{F(x)}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{Tick(tick)}</text>");
        }

        svg.Append($"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Height - Bottom}\" stroke=\"#333333\"/>");
        svg.Append($"<line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - Right}\" y2=\"{Height - Bottom}\" stroke=\"#333333\"/>");
        svg.Append($"<text x=\"{(Width + Left) / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">{Escape(XLabel)}</text>");
        svg.Append($"<text x=\"14\" y=\"{(Height - Bottom + Top) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(Height - Bottom + Top) / 2})\">{Escape(YLabel)}</text>");

        foreach (var series in Series.Where(series => series.Points.Count > 0))
        {
            var path = string.Join(' ', series.Points.Select(point => $"{F(X(point.X))},{F(Y(point.Y))}"));
            svg.Append($"<polyline fill=\"none\" stroke=\"{series.Color}\" stroke-width=\"1.5\" points=\"{path}\"/>");
        }

        var legendX = Left + 10.0;
        foreach (var series in Series)
        {
            svg.Append($"<rect x=\"{F(legendX)}\" y=\"{Top - 12}\" width=\"12\" height=\"3\" fill=\"{series.Color}\"/>");
            svg.Append($"<text x=\"{F(legendX + 16)}\" y=\"{Top - 8}\">{Escape(series.Label)}</text>");
            legendX += 30 + 7 * series.Label.Length;
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    private IEnumerable<double> YTicks(double min, double max)
    {
        if (LogarithmicY)
        {
            for (var tick = min; tick <= max * 1.0001; tick *= 10)
            {
                yield return tick;
            }

            yield break;
        }

        var step = max / 5;
        for (var i = 0; i <= 5; i++)
        {
            yield return min + step * i;
        }
    }

    private static IEnumerable<double> XTicks(double max)
    {
        var step = NiceCeiling(max / 10);
        for (var tick = 0.0; tick <= max + step / 1000; tick += step)
        {
            yield return tick;
        }
    }

    /// <summary>Returns the smallest of 1, 2 or 5 times a power of ten that is at least <paramref name="value"/>.</summary>
    private static double NiceCeiling(double value)
    {
        if (value <= 0)
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var factor in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (factor * power >= value)
            {
                return factor * power;
            }
        }

        return 10 * power;
    }

    private static string Tick(double value) => value.ToString(value is > 0 and < 1 ? "0.###" : "0.#", CultureInfo.InvariantCulture);

    private static string F(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}

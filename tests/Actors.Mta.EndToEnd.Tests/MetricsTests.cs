using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Mta.EndToEnd.Tests.Infrastructure;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// A server with its metrics endpoint on a free port, after one message delivered to the development sink, and
/// the Grafana dashboard in ops/grafana, whose queries must name only metrics the server exports.
/// </summary>
public sealed partial class MetricsTests : IClassFixture<MetricsTests.ServerAfterOneMessage>
{
    private static readonly string[] HistogramSuffixes = ["_bucket", "_sum", "_count"];

    private readonly ServerAfterOneMessage fixture;

    public MetricsTests(ServerAfterOneMessage fixture) => this.fixture = fixture;

    private static string DashboardPath => Path.Combine(RepositoryLayout.Root, "ops", "grafana", "actors-mta.json");

    [GeneratedRegex("actors_mta_[a-z_]+")]
    private static partial Regex MetricName();

    [Fact]
    public void Dashboard_UsesOnlyExportedMetrics()
    {
        var missing = DashboardMetricNames()
            .Where(name => !fixture.Scrape.Names.Contains(name) && !fixture.Scrape.Histograms.Contains(HistogramBaseName(name)))
            .ToList();

        Assert.True(missing.Count == 0, $"The dashboard queries metrics the server does not export: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Dashboard_ShowsEveryServerMetric()
    {
        var used = DashboardMetricNames().Select(HistogramBaseName).ToHashSet();

        var unused = fixture.Scrape.Families
            .Where(family => family.StartsWith("actors_mta_", StringComparison.Ordinal) && !used.Contains(family))
            .ToList();

        Assert.True(unused.Count == 0, $"No dashboard panel shows: {string.Join(", ", unused)}");
    }

    [Fact]
    public void Scrape_CountsEndedSession()
    {
        // The start-up check's connection and the test's own both ended with QUIT, unless the wait for them timed out.
        double sessions = fixture.Scrape.Sum("actors_mta_sessions_total");

        Assert.True(sessions >= 1, $"actors_mta_sessions_total sums to {sessions}.\n{fixture.Scrape.Text}");
    }

    [Fact]
    public void Scrape_CountsOneAcceptedMessage()
    {
        Assert.Equal(1, fixture.Scrape.Sum("actors_mta_messages_accepted_total"));
    }

    [Fact]
    public void Scrape_CountsOneSentRecipient()
    {
        Assert.Equal(1, fixture.Scrape.Sum("actors_mta_recipients_total", "status=\"sent\""));
        Assert.Equal(0, fixture.Scrape.Sum("actors_mta_recipients_total", "status=\"deferred\""));
    }

    [Fact]
    public void Scrape_RecordsOneDeliveryLatency()
    {
        Assert.Equal(1, fixture.Scrape.Sum("actors_mta_delivery_latency_seconds_count"));
    }

    [Fact]
    public void Scrape_CountsReceivedBytes()
    {
        // The data as sent, after dot-unstuffing: the Received header the server adds is not counted.
        Assert.Equal(ServerAfterOneMessage.Message.Length, fixture.Scrape.Sum("actors_mta_received_bytes_total"));
    }

    [Fact]
    public void Scrape_ShowsEmptyQueue()
    {
        Assert.Equal(0, fixture.Scrape.Sum("actors_mta_queue_messages"));
    }

    /// <summary>Returns the histogram's name for one of its series (NAME_bucket, NAME_sum, NAME_count), else the name itself.</summary>
    private static string HistogramBaseName(string name)
    {
        string? suffix = HistogramSuffixes.FirstOrDefault(s => name.EndsWith(s, StringComparison.Ordinal));
        return suffix is null ? name : name[..^suffix.Length];
    }

    /// <summary>Every metric name in the expr fields of the dashboard's panels, rows included.</summary>
    private static List<string> DashboardMetricNames()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var expressions = new List<string>();
        CollectExpressions(dashboard.RootElement, expressions);
        Assert.True(expressions.Count > 0, $"No expr field in {DashboardPath}");
        return expressions.SelectMany(expr => MetricName().Matches(expr).Select(m => m.Value)).Distinct().Order().ToList();
    }

    private static void CollectExpressions(JsonElement element, List<string> expressions)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        expressions.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        CollectExpressions(property.Value, expressions);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CollectExpressions(item, expressions);
                }

                break;
        }
    }

    /// <summary>A server that delivered one message to the development sink, and a scrape of its metrics taken after it.</summary>
    public sealed class ServerAfterOneMessage : IAsyncLifetime
    {
        public static readonly byte[] Message = Encoding.ASCII.GetBytes(
            "From: metrics@example.org\r\nTo: alice@example.com\r\nSubject: Metrics check\r\n\r\nOne message to count.\r\n");

        private ServerProcess? server;
        private string? sink;

        public MetricsScrape Scrape { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            int metricsPort = FreeTcpPort.Next();
            sink = Directory.CreateTempSubdirectory("actors-mta-metrics-sink-").FullName;
            server = await ServerProcess.StartAsync($"dev-sink:{sink}", $"actors-mta.metrics.endpoint = \"127.0.0.1:{metricsPort}\"");

            await SendOneMessageAsync(server.Port);

            // The QUIT reply is sent before the session ends, so wait until the scrape shows it ended.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            do
            {
                Scrape = MetricsScrape.Parse(await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics"));
                if (Scrape.Sum("actors_mta_sessions_open") == 0)
                {
                    break;
                }

                await Task.Delay(100);
            }
            while (DateTime.UtcNow < deadline);
        }

        public async Task DisposeAsync()
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }

            if (sink is not null)
            {
                Directory.Delete(sink, recursive: true);
            }
        }

        private static async Task SendOneMessageAsync(int port)
        {
            await using var client = await SmtpLineClient.ConnectAsync(port);
            var replies = new List<SmtpReply>
            {
                await client.ReadReplyAsync(),
                await client.CommandAsync("EHLO metrics.e2e.test"),
                await client.CommandAsync("MAIL FROM:<metrics@example.org>"),
                await client.CommandAsync("RCPT TO:<alice@example.com>"),
                await client.CommandAsync("DATA"),
            };
            await client.SendDataAsync(Message);
            replies.Add(await client.ReadReplyAsync());
            replies.Add(await client.CommandAsync("QUIT"));

            int[] expected = [220, 250, 250, 250, 354, 250, 221];
            Assert.True(replies.Select(r => r.Code).SequenceEqual(expected), client.Transcript);
        }
    }

    /// <summary>One scrape in Prometheus' text exposition format: its samples and the families its TYPE lines declare.</summary>
    public sealed class MetricsScrape
    {
        private readonly List<(string Name, string Labels, double Value)> samples = new();

        private MetricsScrape(string text) => Text = text;

        public string Text { get; }

        /// <summary>Names of the samples and of the declared families.</summary>
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Families { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Histograms { get; } = new(StringComparer.Ordinal);

        public static MetricsScrape Parse(string text)
        {
            var scrape = new MetricsScrape(text);
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    string[] parts = line.Split(' ');
                    scrape.Families.Add(parts[2]);
                    scrape.Names.Add(parts[2]);
                    if (parts[3] == "histogram")
                    {
                        scrape.Histograms.Add(parts[2]);
                    }

                    continue;
                }

                if (line.StartsWith('#'))
                {
                    continue;
                }

                int brace = line.IndexOf('{');
                int space = line.LastIndexOf(' ');
                string name = brace >= 0 ? line[..brace] : line[..space];
                string labels = brace >= 0 ? line[(brace + 1)..line.LastIndexOf('}')] : "";
                scrape.Names.Add(name);
                scrape.samples.Add((name, labels, double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture)));
            }

            return scrape;
        }

        /// <summary>Adds up the samples named <paramref name="name"/>, or only those whose labels contain <paramref name="label"/>.</summary>
        public double Sum(string name, string label = "") =>
            samples.Where(s => s.Name == name && s.Labels.Contains(label, StringComparison.Ordinal)).Sum(s => s.Value);
    }
}

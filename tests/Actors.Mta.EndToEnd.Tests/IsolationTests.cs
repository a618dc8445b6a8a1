using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Bulkheads between destinations: example.com is delivered to Dovecot, example.net to an LMTP destination that
/// accepts connections and never sends its greeting. Mail for example.net is stuck until the delivery timeout
/// queues it, and mail for example.com must be delivered at its normal speed meanwhile.
/// </summary>
[Collection(LoadCollection.Name)]
public sealed class IsolationTests : IAsyncLifetime
{
    private const string Sender = "isolation@example.org";
    private const string Alice = "alice@example.com";
    private const string StuckRecipient = "someone@example.net";
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(3);

    private readonly ITestOutputHelper output;
    private readonly DovecotFixture dovecot = new();
    private readonly SilentTcpServer silentServer = new();
    private ServerProcess? server;

    public IsolationTests(ITestOutputHelper output) => this.output = output;

    public async Task InitializeAsync()
    {
        await dovecot.InitializeAsync();
        server = await ServerProcess.StartAsync(
            dovecot.LmtpDestination,
            "actors-mta.accepted-domains = [\"example.com\", \"example.net\"]",
            "actors-mta.routes = [" +
            $"{{ domains = [\"example.com\"], destination = \"{dovecot.LmtpDestination}\" }}, " +
            $"{{ domains = [\"example.net\"], destination = \"lmtp:127.0.0.1:{silentServer.Port}\" }} ]",
            $"actors-mta.timeouts.delivery = {DeliveryTimeout.TotalSeconds}s",
            // Recipient checks at the silent destination time out too; a short timeout keeps its RCPTs short.
            "actors-mta.verification.timeout = 1s");
    }

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            output.WriteLine("--- server output, last 60 lines");
            output.WriteLine(string.Join('\n', server.Output.ToString().Split('\n').TakeLast(60)));
            await server.DisposeAsync();
        }

        silentServer.Dispose();
        await dovecot.DisposeAsync();
    }

    /// <summary>
    /// Four clients keep sending to example.net, whose every delivery waits for the 3 s delivery timeout. While they
    /// do, four other clients send 100 messages to example.com: each must be delivered while its client waits,
    /// none queued, and all of them well before 100 deliveries of 3 s each could finish.
    /// </summary>
    [Fact]
    public async Task StuckDestination_OtherDomainDeliveredPromptly()
    {
        var port = server!.Port;
        var clock = Stopwatch.StartNew();
        var stuckResults = new ConcurrentBag<(LoadResult Result, TimeSpan End)>();
        var stuckMessages = Enumerable.Range(0, 40)
            .Select(i => new LoadMessage($"stuck-{i:D3}-{Guid.NewGuid():N}", Sender, new[] { StuckRecipient }))
            .ToList();
        using var stopStuck = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var stuckLoad = SmtpLoad.RunAsync(port, stuckMessages, clients: 4, result => stuckResults.Add((result, clock.Elapsed)), stopStuck.Token);

        // Past the 1 s recipient check, the example.net transactions are now waiting for their delivery.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var connectionsBeforeStream = silentServer.ConnectionCount;
        var messages = Enumerable.Range(0, 100)
            .Select(i => new LoadMessage($"prompt-{i:D3}-{Guid.NewGuid():N}", Sender, new[] { Alice }))
            .ToList();
        var streamStart = clock.Elapsed;
        var results = await SmtpLoad.RunAsync(port, messages, clients: 4);
        var streamEnd = clock.Elapsed;

        // Let the example.net transactions in progress reach their reply before stopping the clients.
        await Task.Delay(DeliveryTimeout + TimeSpan.FromSeconds(1));
        stopStuck.Cancel();
        await stuckLoad;
        var stuckReplied = stuckResults.Where(s => s.Result.Accepted).ToList();
        var overlapping = stuckReplied.Count(s => s.End - s.Result.Latency < streamEnd && s.End > streamStart);
        var latencies = results.Select(r => r.Latency.TotalMilliseconds).Order().ToList();
        var stored = SmtpLoad.CountTokens(dovecot, Alice);

        output.WriteLine($"example.com: 100 messages in {(streamEnd - streamStart).TotalSeconds:0.00} s; latency median " +
                         $"{latencies[latencies.Count / 2]:0} ms, 95th percentile {latencies[latencies.Count * 95 / 100]:0} ms, max {latencies[^1]:0} ms");
        output.WriteLine($"example.net: {stuckReplied.Count} got a reply, {overlapping} of them in progress during the stream; " +
                         $"latency {string.Join(", ", stuckReplied.Select(s => s.Result.Latency.TotalSeconds.ToString("0.0")))} s; " +
                         $"{connectionsBeforeStream} connections to the silent server before the stream, {silentServer.ConnectionCount} at the end");
        foreach (var result in results.Where(r => !r.Reply.Contains("delivered as", StringComparison.Ordinal)).Take(10))
        {
            output.WriteLine($"{result.Message.Token}: {result.Reply}");
        }

        Assert.True(connectionsBeforeStream > 0, "the server had not connected to the silent destination before the stream");
        Assert.True(overlapping > 0, "no example.net transaction was in progress during the example.com stream");
        Assert.All(stuckReplied, s => Assert.Contains("queued as", s.Result.Reply));
        Assert.All(stuckReplied, s => Assert.True(s.Result.Latency >= DeliveryTimeout, $"{s.Result.Message.Token} got its reply after {s.Result.Latency}"));
        Assert.Equal(100, results.Count(r => r.Accepted));
        Assert.Empty(results.Where(r => r.Reply.Contains("queued", StringComparison.Ordinal)));
        Assert.True(streamEnd - streamStart < TimeSpan.FromSeconds(30), $"the example.com stream took {streamEnd - streamStart}");
        Assert.All(messages, m => Assert.True(stored.ContainsKey(m.Token), $"{m.Token} is not in {Alice}'s Maildir"));
    }

    /// <summary>
    /// A TCP server on 127.0.0.1 that accepts connections and never sends a byte: an LMTP server that hangs before
    /// its greeting. Accepted connections stay open until disposal.
    /// </summary>
    private sealed class SilentTcpServer : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentBag<TcpClient> connections = new();
        private readonly CancellationTokenSource stopping = new();

        public SilentTcpServer()
        {
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _ = Task.Run(AcceptAsync);
        }

        public int Port { get; }

        public int ConnectionCount => connections.Count;

        public void Dispose()
        {
            stopping.Cancel();
            listener.Stop();
            foreach (var connection in connections)
            {
                connection.Dispose();
            }

            stopping.Dispose();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    connections.Add(await listener.AcceptTcpClientAsync(stopping.Token));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped by Dispose.
            }
        }
    }
}

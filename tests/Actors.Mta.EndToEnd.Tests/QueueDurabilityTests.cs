using System.Diagnostics;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>Tests that load the machine or measure time; they run alone so other tests do not skew them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadCollection
{
    public const string Name = "Load";
}

/// <summary>
/// The queue's promise against a real Dovecot: a message that got 250 reaches its recipients even when the
/// server is killed with SIGKILL under load or Dovecot is down when the message arrives. Each test has its
/// own Dovecot and its own server, whose spool is kept in a temporary directory across restarts.
/// </summary>
[Collection(LoadCollection.Name)]
public sealed class QueueDurabilityTests : IAsyncLifetime
{
    private const string Sender = "load@example.net";
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    // Carol's Maildir is made read-only during the load, so Dovecot replies 451 4.2.0 for her after the data.
    private const string Carol = "carol@example.org";

    private static readonly UnixFileMode MaildirWritable = (UnixFileMode)0b111_000_000;
    private static readonly UnixFileMode MaildirReadOnly = (UnixFileMode)0b101_000_000;

    // Short retry intervals so the queue retries, and drains, within the test.
    private static readonly string[] FastQueue =
    {
        "actors-mta.queue.first-retry = 1s",
        "actors-mta.queue.max-retry-delay = 2s",
        "actors-mta.queue.scan-interval = 200ms",
        "actors-mta.timeouts.delivery = 5s",
        "actors-mta.lmtp.breaker-reset-timeout = 2s",
    };

    private readonly ITestOutputHelper output;
    private readonly DovecotFixture dovecot = new();
    private readonly string directory = Directory.CreateTempSubdirectory("actors-mta-durability-").FullName;
    private readonly List<ServerProcess> servers = new();

    public QueueDurabilityTests(ITestOutputHelper output) => this.output = output;

    private string QueueDirectory => Path.Combine(directory, "spool", "queue");

    public Task InitializeAsync() => dovecot.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var server in servers)
        {
            output.WriteLine($"--- server process {server.ProcessId}: errors and queue loads, then the last 40 lines");
            var lines = server.Output.ToString().Split('\n');
            output.WriteLine(string.Join('\n', lines.Where(l => l.Contains(" ERR] ", StringComparison.Ordinal) || l.Contains("Queue loaded", StringComparison.Ordinal)).Take(50)));
            output.WriteLine("...");
            output.WriteLine(string.Join('\n', lines.TakeLast(40)));
            await server.DisposeAsync();
        }

        await dovecot.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>
    /// 2,400 messages from 8 concurrent clients; about one in seven has Carol as a recipient and is queued, because
    /// her Maildir is read-only. When a third of them have got 250 the server gets SIGKILL and is started
    /// again on the same spool, and the clients reconnect and carry on. Then Carol's Maildir is made writable and
    /// the queue must drain: every message that got 250 must be in each of its recipients' Maildirs. Messages
    /// delivered by the queue but not yet removed from it when the server died are delivered again, so
    /// duplicates are allowed and counted.
    /// </summary>
    [Fact]
    public async Task KilledUnderLoad_AcceptedMessagesAllDelivered()
    {
        const int messageCount = 2_400;
        const int killAfterAccepted = messageCount / 3;
        var port = FreeTcpPort.Next();
        var first = await StartServerAsync(port);
        await WarmUpAsync(port);
        SetMaildirMode(Carol, MaildirReadOnly);

        var messages = PlanMessages(messageCount);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var acceptedSoFar = 0;
        var killPoint = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        var load = SmtpLoad.RunAsync(port, messages, clients: 8, onResult: result =>
        {
            if (result.Accepted && Interlocked.Increment(ref acceptedSoFar) == killAfterAccepted)
            {
                killPoint.TrySetResult();
            }
        }, cancellation.Token);

        await Task.WhenAny(killPoint.Task, load);
        var loadRunningAtKill = !load.IsCompleted;
        first.Kill();
        var killedAt = clock.Elapsed;
        var queuedAtKill = Directory.GetFiles(QueueDirectory, "*.env").Length;
        var restarted = await LaunchServerAsync(port, first.ConfigPath);
        var restartedAt = clock.Elapsed;
        var results = await load;
        var loadEndedAt = clock.Elapsed;

        SetMaildirMode(Carol, MaildirWritable);
        var accepted = results.Where(r => r.Accepted).ToList();
        var drain = await WaitForDeliveryAsync(accepted, TimeSpan.FromSeconds(90));
        var drainedAt = clock.Elapsed;
        var incomingFiles = Directory.GetFiles(Path.Combine(directory, "spool", "incoming"));

        output.WriteLine($"load started at {DateTime.Now - clock.Elapsed:HH:mm:ss.fff} (local time, as in the server log)");
        output.WriteLine($"killed at {killedAt.TotalSeconds:0.0} s, greeting again at {restartedAt.TotalSeconds:0.0} s, " +
                         $"load ended at {loadEndedAt.TotalSeconds:0.0} s, queue drained at {drainedAt.TotalSeconds:0.0} s");
        output.WriteLine($"{messageCount} messages: {accepted.Count} got 250 " +
                         $"({accepted.Count(r => r.Reply.Contains("queued as", StringComparison.Ordinal))} queued), " +
                         $"{results.Count - accepted.Count} failed; {queuedAtKill} in the queue at the kill");
        output.WriteLine($"stored copies: {drain.Copies}, duplicates: {drain.Duplicates}, " +
                         $"delivered without a 250: {drain.DeliveredWithout250(results)}");
        foreach (var failure in results.Where(r => !r.Accepted).Take(10))
        {
            output.WriteLine($"not accepted {failure.Message.Token}: {failure.Reply}");
        }

        Assert.True(loadRunningAtKill, "the load finished before the server was killed");
        Assert.True(first.HasExited, $"server process {first.ProcessId} still runs after SIGKILL");
        Assert.Equal(messageCount, results.Count);
        Assert.True(accepted.Count >= messageCount / 2, $"only {accepted.Count} of {messageCount} messages got 250");
        Assert.True(queuedAtKill > 0, "the queue was empty when the server was killed");
        Assert.True(restarted.Output.ToString().Contains("Queue loaded", StringComparison.Ordinal), "the restarted server did not load its queue");
        Assert.True(drain.Missing.Count == 0,
            $"{drain.Missing.Count} copies of messages that got 250 are missing, for example: {string.Join(", ", drain.Missing.Take(10))}");
        Assert.True(drain.QueueFiles.Count == 0, $"files left in the queue: {string.Join(", ", drain.QueueFiles.Take(10))}");

        // Partly received messages cut off by the kill got no 250, and the restart removes their files.
        Assert.True(incomingFiles.Length == 0, $"files left in spool/incoming: {string.Join(", ", incomingFiles.Take(10))}");
    }

    /// <summary>
    /// With Dovecot stopped, every message gets 250 "queued as" after it was written to the queue. Once
    /// Dovecot is back, the queue delivers each message exactly once and its folder ends up empty.
    /// </summary>
    [Fact]
    public async Task DovecotStopped_AllQueuedThenDelivered()
    {
        const int messageCount = 50;
        var port = FreeTcpPort.Next();
        await StartServerAsync(port);
        var messages = Enumerable.Range(0, messageCount)
            .Select(i => new LoadMessage($"down-{Guid.NewGuid():N}", Sender, new[] { i % 2 == 0 ? Alice : Bob }))
            .ToList();

        await dovecot.StopAsync();
        var results = await SmtpLoad.RunAsync(port, messages, clients: 5);
        var queuedFiles = Directory.GetFiles(QueueDirectory, "*.env").Length;
        await dovecot.StartAsync();
        var drain = await WaitForDeliveryAsync(results, TimeSpan.FromSeconds(60));

        foreach (var result in results.Where(r => !r.Reply.Contains("queued as", StringComparison.Ordinal)).Take(10))
        {
            output.WriteLine($"{result.Message.Token}: {result.Reply}");
        }

        output.WriteLine($"stored copies: {drain.Copies}, duplicates: {drain.Duplicates}");
        Assert.Equal(messageCount, results.Count(r => r.Accepted));
        Assert.Equal(messageCount, results.Count(r => r.Reply.Contains("queued as", StringComparison.Ordinal)));
        Assert.Equal(messageCount, queuedFiles);
        Assert.True(drain.Missing.Count == 0, $"missing after Dovecot restarted: {string.Join(", ", drain.Missing)}");
        Assert.Equal(0, drain.Duplicates);
        Assert.True(drain.QueueFiles.Count == 0, $"files left in the queue: {string.Join(", ", drain.QueueFiles)}");
    }

    private async Task<ServerProcess> StartServerAsync(int port)
    {
        var overrides = ServerProcess.OverridesFor(port, dovecot.LmtpDestination, Path.Combine(directory, "spool"));
        overrides.AddRange(FastQueue);
        var server = await ServerProcess.StartAsync(port, overrides, directory, ownsDirectory: false);
        servers.Add(server);
        return server;
    }

    private async Task<ServerProcess> LaunchServerAsync(int port, string configPath)
    {
        var server = await ServerProcess.LaunchAsync(port, configPath, directory);
        servers.Add(server);
        return server;
    }

    /// <summary>
    /// Delivers one message to each user before the load: Dovecot creates the Maildirs (Carol's must exist to be
    /// made read-only) and the server's code paths are compiled before the timing starts.
    /// </summary>
    private async Task WarmUpAsync(int port)
    {
        var warmUp = new[] { new LoadMessage($"warm-{Guid.NewGuid():N}", Sender, new[] { Alice, Bob, Carol }) };
        var result = Assert.Single(await SmtpLoad.RunAsync(port, warmUp, clients: 1));
        Assert.True(result.Reply.Contains("delivered as", StringComparison.Ordinal), $"warm-up message: {result.Reply}");
    }

    private void SetMaildirMode(string user, UnixFileMode mode)
    {
        // Dovecot writes each message to tmp/ and then renames it into new/.
        foreach (var folder in new[] { "tmp", "new" })
        {
            File.SetUnixFileMode(Path.Combine(dovecot.MaildirOf(user), folder), mode);
        }
    }

    /// <summary>Gives most messages to Alice or Bob, and one in seven to Carol alone or to Alice and Carol.</summary>
    private static List<LoadMessage> PlanMessages(int count)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        return Enumerable.Range(0, count)
            .Select(i => new LoadMessage($"{run}-{i:D5}", Sender, (i % 14) switch
            {
                3 => new[] { Carol },
                10 => new[] { Alice, Carol },
                _ => new[] { i % 2 == 0 ? Alice : Bob },
            }))
            .ToList();
    }

    /// <summary>
    /// Waits until every recipient of every message in <paramref name="accepted"/> has a stored copy and the queue
    /// folder is empty, or until <paramref name="timeout"/> has passed, and returns the state at that point.
    /// </summary>
    private async Task<DrainState> WaitForDeliveryAsync(IReadOnlyList<LoadResult> accepted, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = ReadDrainState(accepted);
            if ((state.Missing.Count == 0 && state.QueueFiles.Count == 0) || DateTime.UtcNow > deadline)
            {
                return state;
            }

            await Task.Delay(500);
        }
    }

    private DrainState ReadDrainState(IReadOnlyList<LoadResult> accepted)
    {
        var stored = new[] { Alice, Bob, Carol }.ToDictionary(user => user, user => SmtpLoad.CountTokens(dovecot, user));
        var missing = accepted
            .Where(r => r.Accepted)
            .SelectMany(r => r.Message.Recipients.Select(user => (user, r.Message.Token)))
            .Where(pair => !stored[pair.user].ContainsKey(pair.Token))
            .Select(pair => $"{pair.Token} to {pair.user}")
            .ToList();
        var queueFiles = Directory.GetFiles(QueueDirectory).Select(Path.GetFileName).ToList();
        return new DrainState(stored, missing, queueFiles!);
    }

    /// <param name="Stored">For each user, the number of stored copies of each load token.</param>
    /// <param name="Missing">"TOKEN to USER" for each copy not yet stored.</param>
    /// <param name="QueueFiles">Names of the files in the spool's queue folder.</param>
    private sealed record DrainState(
        Dictionary<string, Dictionary<string, int>> Stored, List<string> Missing, List<string> QueueFiles)
    {
        public int Copies => Stored.Values.Sum(counts => counts.Values.Sum());

        /// <summary>Stored copies beyond the first of a message in one Maildir.</summary>
        public int Duplicates => Stored.Values.Sum(counts => counts.Values.Sum(n => n - 1));

        /// <summary>Messages stored although their client saw no 250, for example because the kill cut the reply.</summary>
        public int DeliveredWithout250(IEnumerable<LoadResult> results) =>
            results.Count(r => !r.Accepted && Stored.Values.Any(counts => counts.ContainsKey(r.Message.Token)));
    }
}

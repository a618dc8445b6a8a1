using System.Text.RegularExpressions;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The server's sd_notify(3) messages, received on a NOTIFY_SOCKET the test binds in place of systemd's, with
/// WATCHDOG_USEC=1000000 as WatchdogSec=1s would set it.
/// </summary>
public sealed partial class SystemdNotifyTests
{
    private const int WatchdogMicroseconds = 1_000_000;

    // The notification test gives the watchdog twice as long, so that a ping delayed by a loaded test machine
    // (gaps of 1.08 and 1.24 s were seen with the Core tests running alongside) does not fail it.
    private const int RelaxedWatchdogMicroseconds = 2_000_000;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly ITestOutputHelper output;

    public SystemdNotifyTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public async Task Notify_ReadyStatusWatchdogThenStopping()
    {
        var directory = Directory.CreateTempSubdirectory("actors-mta-notify-").FullName;
        var port = FreeTcpPort.Next();
        var notify = NotifySocket.Bind(directory);
        var server = StartServer(directory, port, notify, extraOverrides: [], stallHook: null, RelaxedWatchdogMicroseconds);
        var watchdogTimeout = TimeSpan.FromTicks(RelaxedWatchdogMicroseconds * TimeSpan.TicksPerMicrosecond);
        try
        {
            var ready = await notify.WaitForAsync("READY=1", StartTimeout);
            bool acceptsAtReady = SystemdTestConfig.Accepts(port);

            await Task.Delay(TimeSpan.FromSeconds(5));
            var sigtermAt = notify.Elapsed;
            bool exited = server.Terminate(TimeSpan.FromSeconds(60));

            // STOPPING=1 is sent before the process exits, but this process may not have read the datagram yet.
            if (exited)
            {
                try
                {
                    await notify.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                    // Asserted below, with the transcript.
                }
            }

            var messages = notify.Messages;
            output.WriteLine(notify.Transcript);

            Assert.True(acceptsAtReady, $"127.0.0.1:{port} refused a connection right after READY=1.\n{server.Output}");
            Assert.Equal(1, messages.Count(m => m.Text == "READY=1"));

            var pings = messages.Where(m => m.Text == "WATCHDOG=1" && m.At < sigtermAt).Select(m => m.At).ToList();
            Assert.True(pings.Count >= 4, $"Only {pings.Count} WATCHDOG=1 in the 5 s after READY=1.\n{notify.Transcript}");
            var gaps = pings.Zip(pings.Skip(1), (earlier, later) => later - earlier).ToList();
            Assert.True(gaps.Max() < watchdogTimeout, $"A gap of {gaps.Max().TotalMilliseconds} ms between pings reaches WATCHDOG_USEC.\n{notify.Transcript}");
            var medianGap = gaps.Order().ElementAt(gaps.Count / 2);
            Assert.InRange(medianGap.TotalMilliseconds, 700, 1400);

            var statuses = messages.Where(m => m.Text.StartsWith("STATUS=", StringComparison.Ordinal)).ToList();
            Assert.True(statuses.Count >= pings.Count, $"{statuses.Count} STATUS= lines for {pings.Count} pings.\n{notify.Transcript}");
            Assert.All(statuses, status => Assert.Matches(StatusPattern(), status.Text));

            Assert.True(exited, $"The server did not exit within 60 s of SIGTERM.\n{server.Output}");
            var stopping = messages.Where(m => m.Text == "STOPPING=1").ToList();
            Assert.Single(stopping);
            Assert.True(stopping[0].At >= sigtermAt, $"STOPPING=1 arrived before SIGTERM.\n{notify.Transcript}");
            Assert.True(ready.At < stopping[0].At, $"READY=1 did not precede STOPPING=1.\n{notify.Transcript}");
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            output.WriteLine("--- server output");
            output.WriteLine(server.Output.ToString());
            server.Dispose();
            notify.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Watchdog_StopsWhileDispatcherStalled()
    {
        // The default dispatcher gets one thread, so the hook's sleeping actor stalls every actor on it,
        // the session supervisor and the queue included. The watchdog runs on another dispatcher.
        string[] oneThreadDispatcher =
        [
            "akka.actor.default-dispatcher.executor = fork-join-executor",
            "akka.actor.default-dispatcher.fork-join-executor { parallelism-min = 1, parallelism-factor = 1.0, parallelism-max = 1 }",
        ];
        var stallAfter = TimeSpan.FromSeconds(2);
        var stallFor = TimeSpan.FromSeconds(4);

        var directory = Directory.CreateTempSubdirectory("actors-mta-stall-").FullName;
        var port = FreeTcpPort.Next();
        var notify = NotifySocket.Bind(directory);
        var server = StartServer(directory, port, notify, oneThreadDispatcher, stallHook: $"{stallAfter.TotalMilliseconds}:{stallFor.TotalMilliseconds}");
        try
        {
            var ready = await notify.WaitForAsync("READY=1", StartTimeout);
            await Task.Delay(stallAfter + stallFor + TimeSpan.FromSeconds(2));
            var pings = notify.Messages.Where(m => m.Text == "WATCHDOG=1").Select(m => m.At).ToList();
            output.WriteLine(notify.Transcript);

            Assert.True(pings.Count(at => at < ready.At + stallAfter) >= 2, $"Fewer than 2 pings before the stall.\n{notify.Transcript}");
            var gaps = pings.Zip(pings.Skip(1), (earlier, later) => (Start: earlier, Length: later - earlier)).ToList();
            var longest = gaps.MaxBy(gap => gap.Length);
            Assert.True(longest.Length >= stallFor - TimeSpan.FromSeconds(1),
                $"The longest gap between pings is {longest.Length.TotalMilliseconds} ms, shorter than the {stallFor.TotalMilliseconds} ms stall.\n{notify.Transcript}");
            Assert.True(pings.Any(at => at > longest.Start + longest.Length), $"The pings did not resume after the stall.\n{notify.Transcript}");
            Assert.Contains("did not reply within", server.Output.ToString());
        }
        finally
        {
            output.WriteLine("--- server output");
            output.WriteLine(server.Output.ToString());
            server.Dispose();
            notify.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    [GeneratedRegex(@"^STATUS=sessions=\d+ queue=\d+ oldest=\d+s$")]
    private static partial Regex StatusPattern();

    private static LaunchedProcess StartServer(
        string directory, int port, NotifySocket notify, IEnumerable<string> extraOverrides, string? stallHook,
        int watchdogMicroseconds = WatchdogMicroseconds)
    {
        var configPath = Path.Combine(directory, "notify.hocon");
        var overrides = ServerProcess.OverridesFor(port, $"dev-sink:{Path.Combine(directory, "sink")}", Path.Combine(directory, "spool"));
        overrides.AddRange(extraOverrides);
        SystemdTestConfig.Write(configPath, overrides);

        var environment = new Dictionary<string, string?>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = watchdogMicroseconds.ToString(),
            ["WATCHDOG_PID"] = null,
            ["LISTEN_PID"] = null,
            ["LISTEN_FDS"] = null,
            ["LISTEN_FDNAMES"] = null,
            ["ACTORS_MTA_TEST_STALL_DISPATCHER"] = stallHook,
        };
        return LaunchedProcess.Start(
            RepositoryLayout.DotnetPath, [RepositoryLayout.HostAssemblyPath, "--config", configPath], directory, environment);
    }
}

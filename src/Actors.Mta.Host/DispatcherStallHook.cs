using System.Globalization;
using Akka.Actor;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>
/// Test hook that blocks a thread of Akka's default dispatcher, to show that the systemd watchdog stops its
/// notifications when the actors it checks cannot run. It is off unless the environment variable
/// ACTORS_MTA_TEST_STALL_DISPATCHER is set to "DELAY_MS:DURATION_MS": DELAY_MS after start-up one actor on
/// the default dispatcher sleeps for DURATION_MS. Only a default dispatcher of one thread (a fork-join-executor
/// with parallelism 1, which the tests configure) is stalled by that as a whole. Never set it in production.
/// </summary>
internal sealed class DispatcherStallHook(ActorSystem system) : IHostedService
{
    public const string VariableName = "ACTORS_MTA_TEST_STALL_DISPATCHER";

    public static bool IsEnabled => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(VariableName));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var (delay, duration) = Parse(Environment.GetEnvironmentVariable(VariableName) ?? "");
        var sleeper = system.ActorOf(Props.Create(() => new Sleeper()), "test-dispatcher-stall");
        system.Scheduler.ScheduleTellOnce(delay, sleeper, duration, ActorRefs.NoSender);
        Log.Warning("Test hook {Variable} is set: a default-dispatcher thread will be blocked for {Duration} ms in {Delay} ms",
            VariableName, duration.TotalMilliseconds, delay.TotalMilliseconds);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static (TimeSpan Delay, TimeSpan Duration) Parse(string value)
    {
        string[] parts = value.Split(':');
        if (parts.Length == 2 &&
            int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int delayMs) &&
            int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int durationMs))
        {
            return (TimeSpan.FromMilliseconds(delayMs), TimeSpan.FromMilliseconds(durationMs));
        }

        throw new InvalidOperationException(
            $"{VariableName} is set to '{value}', which is invalid; expected DELAY_MS:DURATION_MS, for example 2000:4000, or unset it");
    }

    /// <summary>Blocks its dispatcher thread for the duration it is sent.</summary>
    private sealed class Sleeper : ReceiveActor
    {
        public Sleeper()
        {
            Receive<TimeSpan>(duration =>
            {
                Log.Warning("Test hook: blocking a default-dispatcher thread for {Duration} ms", duration.TotalMilliseconds);
                Thread.Sleep(duration);
            });
        }
    }
}

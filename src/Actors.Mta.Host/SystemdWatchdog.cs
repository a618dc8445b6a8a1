using System.Globalization;
using Actors.Mta.Core.Queue;
using Actors.Mta.Core.Sessions;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>
/// Sends the service manager a STATUS= line with the session count and the queue figures and, when the unit
/// sets WatchdogSec=, the WATCHDOG=1 keep-alive. Each notification follows fresh replies from the session
/// supervisor and the queue, so when those actors cannot run (a stalled dispatcher, a starved thread pool)
/// the keep-alives stop and systemd restarts the service.
/// </summary>
internal sealed class SystemdWatchdog : ReceiveActor, IWithTimers
{
    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Figures(int Sessions, QueueStatus Queue);

    private sealed record CheckFailed(Exception Error);

    private readonly IActorRef _sessions;
    private readonly IActorRef _delivery;
    private readonly ISystemdNotifier _notifier;
    private readonly TimeSpan _interval;
    private readonly bool _sendKeepAlive;
    private bool _checking;
    private int _failedChecks;

    public SystemdWatchdog(IActorRef sessions, IActorRef delivery, ISystemdNotifier notifier, TimeSpan interval, bool sendKeepAlive)
    {
        _sessions = sessions;
        _delivery = delivery;
        _notifier = notifier;
        _interval = interval;
        _sendKeepAlive = sendKeepAlive;
        Receive<Tick>(_ => OnTick());
        Receive<Figures>(OnFigures);
        Receive<CheckFailed>(OnCheckFailed);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="interval">Time between notifications; each check waits this long for the replies.</param>
    /// <param name="sendKeepAlive">Whether to send WATCHDOG=1 after each successful check, or STATUS= alone.</param>
    public static Props Props(IActorRef sessions, IActorRef delivery, ISystemdNotifier notifier, TimeSpan interval, bool sendKeepAlive) =>
        Akka.Actor.Props.Create(() => new SystemdWatchdog(sessions, delivery, notifier, interval, sendKeepAlive));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _interval);
    }

    private void OnTick()
    {
        // A check still waiting for its replies is not doubled; it fails by its own timeout.
        if (_checking)
        {
            return;
        }

        _checking = true;
        CheckAsync().PipeTo(Self, success: figures => figures, failure: error => new CheckFailed(error));
    }

    private async Task<Figures> CheckAsync()
    {
        var sessions = _sessions.Ask<int>(SessionSupervisor.GetSessionCount.Instance, _interval);
        var queue = _delivery.Ask<QueueStatus>(GetQueueStatus.Instance, _interval);
        await Task.WhenAll(sessions, queue);
        return new Figures(sessions.Result, queue.Result);
    }

    private void OnFigures(Figures figures)
    {
        _checking = false;
        if (_failedChecks > 0)
        {
            Log.Information("The session supervisor and the queue reply again after {Count} failed check(s); watchdog notifications resume", _failedChecks);
            _failedChecks = 0;
        }

        long oldestSeconds = (long)figures.Queue.OldestAge.TotalSeconds;
        string status = string.Create(CultureInfo.InvariantCulture, $"STATUS=sessions={figures.Sessions} queue={figures.Queue.Count} oldest={oldestSeconds}s");
        _notifier.Notify(new ServiceState(status));
        if (_sendKeepAlive)
        {
            _notifier.Notify(new ServiceState("WATCHDOG=1"));
        }
    }

    private void OnCheckFailed(CheckFailed failed)
    {
        _checking = false;
        _failedChecks++;

        // Logged on the first failure and every 10th after it, so a long stall does not flood the journal.
        // Serilog is called directly because Akka's logger actor runs on the dispatcher that may be stalled.
        if (_failedChecks % 10 == 1)
        {
            Log.Warning("The session supervisor or the queue did not reply within {Timeout} ms ({Count} failed check(s) in a row), so no watchdog notification was sent: {Error}",
                _interval.TotalMilliseconds, _failedChecks, failed.Error.Message);
        }
    }
}

/// <summary>
/// Starts <see cref="SystemdWatchdog"/> when the service manager listens (NOTIFY_SOCKET is set). The watchdog
/// interval is half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends, provided WATCHDOG_PID is unset or
/// names this process; otherwise only STATUS= is sent, every 10 s.
/// </summary>
internal sealed class SystemdWatchdogService(
    ActorSystem system,
    IRequiredActor<SessionsKey> sessions,
    IRequiredActor<DeliveryKey> delivery,
    IServiceProvider services) : IHostedService
{
    private static readonly TimeSpan StatusOnlyInterval = TimeSpan.FromSeconds(10);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var notifier = services.GetService<ISystemdNotifier>();
        if (notifier is null || !notifier.IsEnabled)
        {
            return;
        }

        var watchdogTimeout = ReadWatchdogTimeout();
        var interval = watchdogTimeout is { } timeout ? timeout / 2 : StatusOnlyInterval;
        var props = SystemdWatchdog.Props(
                await sessions.GetAsync(cancellationToken),
                await delivery.GetAsync(cancellationToken),
                notifier,
                interval,
                sendKeepAlive: watchdogTimeout is not null)
            // Off the default dispatcher that runs the actors it checks, so the watchdog keeps running (and
            // logging) while they stall.
            .WithDispatcher("akka.actor.internal-dispatcher");
        system.ActorOf(props, "systemd-watchdog");
        if (watchdogTimeout is not null)
        {
            Log.Information("Sending systemd watchdog notifications every {Interval} ms", interval.TotalMilliseconds);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Returns the watchdog timeout from WATCHDOG_USEC when it applies to this process, else null.</summary>
    private static TimeSpan? ReadWatchdogTimeout()
    {
        string? microseconds = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (!ulong.TryParse(microseconds, NumberStyles.None, CultureInfo.InvariantCulture, out ulong usec) || usec == 0)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(pid) &&
            (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int watchdogPid) || watchdogPid != Environment.ProcessId))
        {
            return null;
        }

        // A value beyond TimeSpan's range is no useful deadline; treat it as no watchdog.
        return usec <= (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond)
            ? TimeSpan.FromTicks((long)usec * TimeSpan.TicksPerMicrosecond)
            : null;
    }
}

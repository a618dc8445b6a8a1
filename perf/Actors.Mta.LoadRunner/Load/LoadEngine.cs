using System.Collections.Concurrent;
using System.Diagnostics;
using Actors.Mta.LoadRunner.Messages;
using Actors.Mta.LoadRunner.Results;
using Actors.Mta.LoadRunner.Scenarios;
using Actors.Mta.LoadRunner.Smtp;

namespace Actors.Mta.LoadRunner.Load;

/// <summary>
/// Runs one scenario under the load model of the options, ramped up from zero if asked. The closed model keeps a
/// fixed number of sessions, each starting its next session when one ends. The open model starts new sessions at
/// a fixed rate, whatever the server's speed. The run stops starting work at the duration or when the message
/// limit is used up, gives the work in progress the reply timeout and 5 s more to finish, then abandons it.
/// </summary>
public sealed class LoadEngine
{
    private static readonly TimeSpan ControllerTick = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ExtraGrace = TimeSpan.FromSeconds(5);

    private readonly RunnerOptions options;
    private readonly Scenario scenario;
    private readonly MessageSource? messages;
    private readonly Dictionary<string, StepStatistics> statistics = new(StringComparer.Ordinal);
    private readonly StepStatistics? transactionStatistics;
    private readonly ConcurrentDictionary<string, byte> warnings = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopSource = new();
    private readonly CancellationTokenSource abortSource = new();
    private readonly long warmupEnd;

    private long sessionsStarted;
    private long sessionsFailed;
    private long sessionsOpened;
    private long openingsFinished;
    private long sessionsNotStarted;
    private long activeSessions;
    private long messagesStarted;
    private long messagesAccepted;
    private long messagesFailed;
    private long measuredAccepted;
    private long measuredFailed;
    private long failedSteps;
    private long bytesSent;
    private long bytesReceived;
    private long loadEnd;

    public LoadEngine(RunnerOptions options, Scenario scenario, MessageSource? messages)
    {
        this.options = options;
        this.scenario = scenario;
        this.messages = messages;
        RunStart = Stopwatch.GetTimestamp();
        warmupEnd = RunStart + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
        foreach (var name in scenario.StepNames())
        {
            statistics[name] = new StepStatistics(name, RunStart, warmupEnd);
        }

        statistics.TryGetValue(Scenario.TransactionStepName, out transactionStatistics);
    }

    /// <summary>Stopwatch timestamp of the start of the run; every time in the results is relative to it.</summary>
    public long RunStart { get; }

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(RunStart);

    public bool InWarmup => Stopwatch.GetTimestamp() < warmupEnd;

    public long ActiveSessions => Interlocked.Read(ref activeSessions);

    public long MessagesAccepted => Interlocked.Read(ref messagesAccepted);

    public long MessagesFailed => Interlocked.Read(ref messagesFailed);

    public long SessionsOpened => Interlocked.Read(ref sessionsOpened);

    public long FailedSteps => Interlocked.Read(ref failedSteps);

    /// <summary>The step whose figures sum up the run: the transaction, or connect in a scenario without messages.</summary>
    public StepStatistics MainStep => transactionStatistics ?? statistics[scenario.StepNames()[0]];

    private bool MessageLimitReached => Interlocked.Read(ref messagesStarted) >= options.Messages;

    private bool Finished => stopSource.IsCancellationRequested || (scenario.SendsMessages && MessageLimitReached);

    /// <summary>
    /// Runs the load to its end. Cancelling <paramref name="cancellationToken"/> stops the run early, as reaching
    /// the duration does. <paramref name="onOpened"/> runs once every session of the load has finished its opening
    /// steps (closed model) or when the ramp ends (open model).
    /// </summary>
    public async Task RunAsync(Action? onOpened, CancellationToken cancellationToken)
    {
        using var external = cancellationToken.Register(stopSource.Cancel);
        using var abortLater = stopSource.Token.Register(() => abortSource.CancelAfter(options.Timeout + ExtraGrace));
        stopSource.CancelAfter(options.Duration);

        if (options.IsOpenModel)
        {
            await RunOpenAsync(onOpened);
        }
        else
        {
            await RunClosedAsync(onOpened);
        }

        Interlocked.Exchange(ref loadEnd, Stopwatch.GetTimestamp());
        stopSource.Cancel();
    }

    /// <summary>Builds the report of a finished run.</summary>
    public RunReport BuildReport(string title, DateTimeOffset startedAt, RunSettingsReport settings)
    {
        var end = loadEnd != 0 ? loadEnd : Stopwatch.GetTimestamp();
        var lastMeasured = statistics.Values.Max(step => step.LastMeasuredEnd);
        var measuredSeconds = lastMeasured > warmupEnd ? (double)(lastMeasured - warmupEnd) / Stopwatch.Frequency : 0;
        var elapsedSeconds = (double)(end - RunStart) / Stopwatch.Frequency;
        var throughSecond = (int)Math.Ceiling(elapsedSeconds);
        var steps = statistics.Values.Select(step => step.ToReport(measuredSeconds, throughSecond)).ToList();
        if (measuredSeconds == 0)
        {
            warnings.TryAdd("No sample ended after the warm-up: every rate is 0. Use a shorter --warmup or a longer run.", 0);
        }

        var totals = new RunTotals(
            SessionsStarted: Interlocked.Read(ref sessionsStarted),
            SessionsFailed: Interlocked.Read(ref sessionsFailed),
            SessionsOpened: Interlocked.Read(ref sessionsOpened),
            MessagesStarted: Math.Min(Interlocked.Read(ref messagesStarted), options.Messages),
            MessagesAccepted: Interlocked.Read(ref messagesAccepted),
            MessagesFailed: Interlocked.Read(ref messagesFailed),
            MeasuredMessagesAccepted: Interlocked.Read(ref measuredAccepted),
            MeasuredMessagesFailed: Interlocked.Read(ref measuredFailed),
            MessagesPerSecond: measuredSeconds > 0 ? Interlocked.Read(ref measuredAccepted) / measuredSeconds : 0,
            FailedSteps: Interlocked.Read(ref failedSteps),
            BytesSent: Interlocked.Read(ref bytesSent),
            BytesReceived: Interlocked.Read(ref bytesReceived),
            SessionsNotStarted: Interlocked.Read(ref sessionsNotStarted));
        return new RunReport(
            Tool: "Actors.Mta.LoadRunner",
            FormatVersion: 1,
            Title: title,
            StartedAt: startedAt,
            Settings: settings,
            ElapsedSeconds: elapsedSeconds,
            WarmupSeconds: options.Warmup.TotalSeconds,
            MeasuredSeconds: measuredSeconds,
            Totals: totals,
            Scenarios: [new ScenarioReport(scenario.Name, steps)],
            Warnings: warnings.Keys.Order(StringComparer.Ordinal).ToList());
    }

    private async Task RunClosedAsync(Action? onOpened)
    {
        var users = new List<Task>();
        while (!Finished && users.Count < options.Sessions)
        {
            var target = TargetSessions(Elapsed);
            while (users.Count < target)
            {
                users.Add(Task.Run(RunUserAsync));
            }

            if (users.Count < options.Sessions)
            {
                await DelayUntilStopAsync(ControllerTick);
            }
        }

        if (onOpened is not null)
        {
            _ = Task.Run(async () =>
            {
                while (!stopSource.IsCancellationRequested && Interlocked.Read(ref openingsFinished) < users.Count)
                {
                    await DelayUntilStopAsync(ControllerTick);
                }

                onOpened();
            });
        }

        await Task.WhenAll(users);
    }

    /// <summary>Sessions the closed model keeps at <paramref name="elapsed"/>: linear from 1 to --sessions over the ramp.</summary>
    private int TargetSessions(TimeSpan elapsed)
    {
        if (options.Ramp <= TimeSpan.Zero || elapsed >= options.Ramp)
        {
            return options.Sessions;
        }

        return Math.Max(1, (int)Math.Ceiling(options.Sessions * (elapsed / options.Ramp)));
    }

    /// <summary>One virtual user of the closed model: sessions one after another until the run stops.</summary>
    private async Task RunUserAsync()
    {
        if (!scenario.SendsMessages)
        {
            // A session without messages lasts until the run stops; a failed one is not retried, so the
            // figures count each session once.
            await RunSessionAsync();
            return;
        }

        while (!Finished)
        {
            if (!await RunSessionAsync())
            {
                await DelayUntilStopAsync(RetryDelay);
            }
        }
    }

    private async Task RunOpenAsync(Action? onOpened)
    {
        var sessions = new List<Task>();
        var launched = 0L;
        var rampReported = false;
        while (!Finished)
        {
            var elapsed = Elapsed;
            var due = (long)SessionsDue(elapsed);
            while (launched < due)
            {
                launched++;
                if (Interlocked.Read(ref activeSessions) >= options.MaxSessions)
                {
                    Interlocked.Increment(ref sessionsNotStarted);
                    warnings.TryAdd($"Sessions were skipped because {options.MaxSessions} were open (--max-sessions).", 0);
                    continue;
                }

                sessions.Add(Task.Run(RunSessionAsync));
            }

            if (!rampReported && elapsed >= options.Ramp)
            {
                rampReported = true;
                onOpened?.Invoke();
            }

            sessions.RemoveAll(task => task.IsCompleted);
            await DelayUntilStopAsync(ControllerTick);
        }

        await Task.WhenAll(sessions);
    }

    /// <summary>Sessions the open model has started by <paramref name="elapsed"/>: the integral of a rate ramped linearly from 0.</summary>
    private double SessionsDue(TimeSpan elapsed)
    {
        var t = elapsed.TotalSeconds;
        var ramp = options.Ramp.TotalSeconds;
        if (ramp <= 0)
        {
            return options.Rate * t;
        }

        return t < ramp
            ? options.Rate * t * t / (2 * ramp)
            : options.Rate * ramp / 2 + options.Rate * (t - ramp);
    }

    /// <summary>Runs one session of the scenario; returns false when it ended on a failure.</summary>
    private async Task<bool> RunSessionAsync()
    {
        Interlocked.Increment(ref sessionsStarted);
        Interlocked.Increment(ref activeSessions);
        var context = new SessionContext(
            options.Target, options.Timeout, messages?.CreateSessionMessages(), stopSource.Token, abortSource.Token);
        try
        {
            var opened = await RunOpeningAsync(context);
            Interlocked.Increment(ref openingsFinished);
            if (!opened)
            {
                Interlocked.Increment(ref sessionsFailed);
                return false;
            }

            if (options.Pipelining && !context.PipeliningOffered)
            {
                warnings.TryAdd("The server did not offer PIPELINING: MAIL, RCPT and DATA were sent one at a time.", 0);
            }

            if (!await RunTransactionsAsync(context))
            {
                Interlocked.Increment(ref sessionsFailed);
                return false;
            }

            foreach (var step in scenario.ClosingSteps)
            {
                var outcome = await RunStepAsync(step, context);
                if (outcome.FollowUp == StepFollowUp.EndSession)
                {
                    break;
                }
            }

            return true;
        }
        finally
        {
            if (context.Connection is { } connection)
            {
                Interlocked.Add(ref bytesSent, connection.BytesSent);
                Interlocked.Add(ref bytesReceived, connection.BytesReceived);
                await connection.DisposeAsync();
            }

            Interlocked.Decrement(ref activeSessions);
        }
    }

    private async Task<bool> RunOpeningAsync(SessionContext context)
    {
        foreach (var step in scenario.OpeningSteps)
        {
            var outcome = await RunStepAsync(step, context);
            if (outcome.FollowUp != StepFollowUp.Continue)
            {
                return false;
            }
        }

        Interlocked.Increment(ref sessionsOpened);
        return true;
    }

    /// <summary>Sends this session's messages; returns false when the connection was lost or closed by the server.</summary>
    private async Task<bool> RunTransactionsAsync(SessionContext context)
    {
        if (!scenario.SendsMessages)
        {
            return true;
        }

        for (var sent = 0; options.MessagesPerSession == 0 || sent < options.MessagesPerSession; sent++)
        {
            if (!TryBeginMessage(out var sequence))
            {
                break;
            }

            context.BeginTransaction(sequence);
            var start = Stopwatch.GetTimestamp();
            var bytesBefore = TransferredBytes(context);
            string? failure = null;
            var followUp = StepFollowUp.Continue;
            foreach (var step in scenario.TransactionSteps)
            {
                var outcome = await RunStepAsync(step, context);
                failure ??= outcome.FailureKey;
                if (outcome.FollowUp != StepFollowUp.Continue)
                {
                    followUp = outcome.FollowUp;
                    break;
                }
            }

            RecordTransaction(context, start, failure, bytesBefore);
            if (followUp == StepFollowUp.EndSession)
            {
                return false;
            }

            if (!context.MessageAccepted && scenario.ResetStep is { } reset &&
                (await RunStepAsync(reset, context)).FollowUp == StepFollowUp.EndSession)
            {
                return false;
            }
        }

        return true;
    }

    private void RecordTransaction(SessionContext context, long start, string? failure, long bytesBefore)
    {
        var end = Stopwatch.GetTimestamp();
        var accepted = context.MessageAccepted;
        transactionStatistics!.Record(start, end, accepted, accepted ? null : failure ?? "unknown", TransferredBytes(context) - bytesBefore);
        Interlocked.Increment(ref accepted ? ref messagesAccepted : ref messagesFailed);
        if (start >= warmupEnd)
        {
            Interlocked.Increment(ref accepted ? ref measuredAccepted : ref measuredFailed);
        }
    }

    private async Task<StepOutcome> RunStepAsync(ScenarioStep step, SessionContext context)
    {
        var bytesBefore = TransferredBytes(context);
        var start = Stopwatch.GetTimestamp();
        StepOutcome outcome;
        try
        {
            outcome = await step.Action(context);
        }
        catch (SmtpClientException e)
        {
            outcome = StepOutcome.SessionFailed(e.FailureKey);
        }

        if (step.Recorded)
        {
            statistics[step.Name].Record(start, Stopwatch.GetTimestamp(), outcome.Ok, outcome.FailureKey, TransferredBytes(context) - bytesBefore);
            if (!outcome.Ok)
            {
                Interlocked.Increment(ref failedSteps);
            }
        }

        return outcome;
    }

    private bool TryBeginMessage(out long sequence)
    {
        sequence = 0;
        if (stopSource.IsCancellationRequested)
        {
            return false;
        }

        sequence = Interlocked.Increment(ref messagesStarted);
        return sequence <= options.Messages;
    }

    private static long TransferredBytes(SessionContext context) =>
        context.Connection is { } connection ? connection.BytesSent + connection.BytesReceived : 0;

    private async Task DelayUntilStopAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, stopSource.Token);
        }
        catch (OperationCanceledException)
        {
            // The run is stopping; the caller checks.
        }
    }
}

using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Delivers by running a program with the message on its standard input, like Postfix's pipe(8). The program
/// runs once per recipient when its arguments contain ${recipient}, ${local_part} or ${domain}, otherwise once
/// per job for all its recipients, which then share the result. At most max-concurrency programs run at once;
/// further runs wait in this actor's own queue. The processes run in tasks, and their results come back as messages.
/// </summary>
/// <remarks>
/// The exit status follows sysexits.h: 0 delivers (250 2.0.0), 75 EX_TEMPFAIL defers (451 4.3.0), and any other
/// status bounces (550 5.3.0). A status above 128 is deferred as well, because .NET reports a process killed by
/// signal N as 128 + N, and a program killed by the OOM killer, say, failed for reasons unrelated to the message.
/// A program that runs past the timeout is killed with its process tree and the delivery deferred (451 4.4.7);
/// a program that cannot be started defers (451 4.3.5).
/// NOTE: <see cref="MessageDelivery"/> stops waiting after its own deadline (for a retry from the queue,
/// lmtp.connect-timeout + 3 x lmtp.reply-timeout). A run that finishes later, after waiting in the queue here or
/// with a longer timeout, is not counted and the message may be delivered again at the next retry.
/// </remarks>
public sealed partial class PipeDestination : ReceiveActor
{
    /// <summary>One program run: a job and the recipients the run delivers to.</summary>
    private sealed record Run(DeliverToDestination Job, IReadOnlyList<Mailbox> Recipients);

    private sealed record RunFinished(Run Run, PipeRunResult Result);

    private readonly Destination.Pipe _destination;
    private readonly Queue<Run> _waiting = new();
    private readonly Dictionary<DeliverToDestination, List<RecipientResult>> _jobs = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _running;

    public PipeDestination(Destination.Pipe destination)
    {
        _destination = destination;
        Receive<DeliverToDestination>(OnJob);
        Receive<RunFinished>(OnRunFinished);
    }

    public static Props Props(Destination.Pipe destination) => Akka.Actor.Props.Create(() => new PipeDestination(destination));

    /// <summary>Kills the programs still running, so none outlives the server.</summary>
    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private void OnJob(DeliverToDestination job)
    {
        var recipients = job.Envelope.Recipients;
        if (recipients.Count == 0)
        {
            job.ReplyTo.Tell(new DestinationResults(job.QueueId, []));
            return;
        }

        _jobs[job] = new List<RecipientResult>(recipients.Count);
        if (_destination.PerRecipient)
        {
            foreach (var recipient in recipients)
            {
                _waiting.Enqueue(new Run(job, [recipient]));
            }
        }
        else
        {
            _waiting.Enqueue(new Run(job, recipients));
        }

        StartWaitingRuns();
    }

    private void StartWaitingRuns()
    {
        while (_running < _destination.MaxConcurrency && _waiting.TryDequeue(out var run))
        {
            _running++;
            var request = BuildRequest(run);
            PipeRunner.RunAsync(request, _stopping.Token)
                .PipeTo(Self, success: result => new RunFinished(run, result), failure: error => new RunFinished(run, PipeRunResult.Failed(error)));
        }
    }

    private void OnRunFinished(RunFinished finished)
    {
        var run = finished.Run;
        if (!_jobs.TryGetValue(run.Job, out var results))
        {
            // A run started before this actor restarted. MessageDelivery defers its recipients at its deadline.
            _log.Warning("{QueueId}: dropped the result of a pipe run started before {Destination} restarted", run.Job.QueueId, _destination.Name);
            return;
        }

        _running--;
        var result = finished.Result;
        LogRun(run, result);
        var reply = ReplyFor(result);
        results.AddRange(run.Recipients.Select(recipient => new RecipientResult(recipient, reply, _destination.Name)));
        if (results.Count == run.Job.Envelope.Recipients.Count)
        {
            _jobs.Remove(run.Job);
            run.Job.ReplyTo.Tell(new DestinationResults(run.Job.QueueId, results));
        }

        StartWaitingRuns();
    }

    private SmtpReply ReplyFor(PipeRunResult result)
    {
        const int exTempFail = 75;
        return result switch
        {
            { Outcome: PipeOutcome.InputUnreadable } => new SmtpReply(451, "4.3.0", "Message file could not be read, try again later"),
            { Outcome: PipeOutcome.StartFailed } => new SmtpReply(451, "4.3.5", "Delivery program could not be started, try again later"),
            { Outcome: PipeOutcome.TimedOut } => new SmtpReply(451, "4.4.7", $"Delivery program timed out after {_destination.Timeout}, try again later"),
            { ExitCode: 0 } => new SmtpReply(250, "2.0.0", "Delivered to the delivery program"),
            { ExitCode: exTempFail } => new SmtpReply(451, "4.3.0", "Delivery program deferred the message (exit status 75, EX_TEMPFAIL), try again later"),
            { ExitCode: > 128 } => new SmtpReply(451, "4.3.0", $"Delivery program ended with exit status {result.ExitCode} (killed by a signal?), try again later"),
            _ => new SmtpReply(550, "5.3.0", $"Delivery program failed with exit status {result.ExitCode}"),
        };
    }

    // One log line per run: stdout and stderr are truncated and their line breaks escaped.
    private void LogRun(Run run, PipeRunResult result)
    {
        string recipients = string.Join(' ', run.Recipients.Select(r => r.Address));
        switch (result.Outcome)
        {
            case PipeOutcome.StartFailed or PipeOutcome.InputUnreadable:
                _log.Error(result.Error, "{QueueId}: pipe to {Destination} for {Recipients} failed: {Error}",
                    run.Job.QueueId, _destination.Name, recipients, result.Error?.Message);
                break;
            case PipeOutcome.TimedOut:
                _log.Warning("{QueueId}: pipe to {Destination} for {Recipients} timed out after {Elapsed:0.###}s, process tree killed; stdout: {Stdout} stderr: {Stderr}",
                    run.Job.QueueId, _destination.Name, recipients, result.Elapsed.TotalSeconds, result.Stdout, result.Stderr);
                break;
            default:
                const string template = "{QueueId}: pipe to {Destination} for {Recipients} exited with status {ExitCode} after {Elapsed:0.###}s; stdout: {Stdout} stderr: {Stderr}";
                object[] values = [run.Job.QueueId, _destination.Name, recipients, result.ExitCode!, result.Elapsed.TotalSeconds, result.Stdout, result.Stderr];
                if (result.ExitCode == 0)
                {
                    _log.Info(template, values);
                }
                else
                {
                    _log.Warning(template, values);
                }

                break;
        }
    }

    private PipeRunRequest BuildRequest(Run run)
    {
        var envelope = run.Job.Envelope;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sender"] = envelope.SenderText,
            ["queue_id"] = run.Job.QueueId,
        };
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = "/usr/bin:/bin",
            ["SENDER"] = envelope.SenderText,
            ["QUEUE_ID"] = run.Job.QueueId,
        };
        if (_destination.PerRecipient)
        {
            var recipient = run.Recipients[0];
            values["recipient"] = recipient.Address;
            values["local_part"] = recipient.LocalPart;
            values["domain"] = recipient.Domain;
            environment["RECIPIENT"] = recipient.Address;
        }
        else
        {
            environment["RECIPIENTS"] = string.Join(' ', run.Recipients.Select(r => r.Address));
        }

        var arguments = _destination.Command.Skip(1).Select(argument => ExpandPlaceholders(argument, values)).ToList();
        return new PipeRunRequest(_destination.Command[0], arguments, environment, run.Job.Data, _destination.Timeout);
    }

    /// <summary>
    /// Replaces each ${name} in one pass, so a value that contains "${...}" (a quoted local part may) stays as it is.
    /// Configuration validation admits only names that <paramref name="values"/> contains in this mode.
    /// </summary>
    internal static string ExpandPlaceholders(string argument, IReadOnlyDictionary<string, string> values) =>
        Placeholder().Replace(argument, match => values.TryGetValue(match.Groups["name"].Value, out string? value) ? value : match.Value);

    [GeneratedRegex(@"\$\{(?<name>[a-z_]+)\}")]
    private static partial Regex Placeholder();
}

/// <summary>How a pipe run ended.</summary>
internal enum PipeOutcome
{
    Exited,
    TimedOut,
    StartFailed,
    InputUnreadable,
}

/// <summary>A program to run: path, expanded arguments, the whole environment, the message and the time limit.</summary>
internal sealed record PipeRunRequest(
    string Program,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    MessageData Message,
    TimeSpan Timeout);

/// <summary>The end of a pipe run, with the start of its output as text for the log.</summary>
internal sealed record PipeRunResult(PipeOutcome Outcome, int? ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, Exception? Error = null)
{
    public static PipeRunResult Failed(Exception error) =>
        new(PipeOutcome.StartFailed, null, "", "", TimeSpan.Zero, error is AggregateException { InnerException: { } inner } ? inner : error);
}

/// <summary>Runs one program with System.Diagnostics.Process, never through a shell.</summary>
internal static class PipeRunner
{
    /// <summary>Bytes of stdout and of stderr kept for the log; the rest is read and discarded.</summary>
    public const int OutputLimit = 1024;

    /// <summary>
    /// How long output is still read after the program exited. A background child of the program may keep the
    /// pipes open, and it must not delay the delivery.
    /// </summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait for a killed process to be reaped.</summary>
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Starts the program, streams the message file to its standard input, reads its output concurrently and
    /// waits for its exit, killing its process tree at the timeout or when <paramref name="stopping"/> is cancelled.
    /// Expected failures are returned as outcomes, not thrown.
    /// </summary>
    public static async Task<PipeRunResult> RunAsync(PipeRunRequest request, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        Stream message;
        try
        {
            message = request.Message.OpenRead();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new PipeRunResult(PipeOutcome.InputUnreadable, null, "", "", clock.Elapsed, ex);
        }

        await using (message)
        {
            using var process = new Process { StartInfo = BuildStartInfo(request) };
            try
            {
                process.Start();
            }
            catch (Exception ex) when (ex is Win32Exception or IOException or UnauthorizedAccessException)
            {
                return new PipeRunResult(PipeOutcome.StartFailed, null, "", "", clock.Elapsed, ex);
            }

            return await SuperviseAsync(process, message, request.Timeout, clock, stopping);
        }
    }

    private static ProcessStartInfo BuildStartInfo(PipeRunRequest request)
    {
        var startInfo = new ProcessStartInfo(request.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A fixed directory, so the program does not depend on (or write into) the server's working directory.
            WorkingDirectory = "/",
        };
        foreach (string argument in request.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // The server's own environment may contain secrets or systemd's LISTEN_FDS, so the program gets none of it.
        startInfo.Environment.Clear();
        foreach (var (name, value) in request.Environment)
        {
            startInfo.Environment[name] = value;
        }

        return startInfo;
    }

    private static async Task<PipeRunResult> SuperviseAsync(Process process, Stream message, TimeSpan timeout, Stopwatch clock, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        using var inputDone = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        using var outputDone = new CancellationTokenSource();

        // Both outputs are read from the start, so a program that writes much before reading its input cannot
        // block on a full pipe while this side blocks writing the message.
        var stdout = CaptureAsync(process.StandardOutput.BaseStream, outputDone.Token);
        var stderr = CaptureAsync(process.StandardError.BaseStream, outputDone.Token);
        var input = WriteInputAsync(message, process.StandardInput, inputDone.Token);

        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            KillTree(process);
            using var reaped = new CancellationTokenSource(KillGrace);
            try
            {
                await process.WaitForExitAsync(reaped.Token);
            }
            catch (OperationCanceledException)
            {
                // The process did not end even after SIGKILL (in uninterruptible sleep); its exit is not awaited further.
            }
        }

        // A background child of the program may still hold the input or output pipes open.
        inputDone.Cancel();
        await input;
        outputDone.CancelAfter(OutputGrace);
        string stdoutText = await stdout;
        string stderrText = await stderr;
        int? exitCode = !timedOut && process.HasExited ? process.ExitCode : null;
        return new PipeRunResult(timedOut ? PipeOutcome.TimedOut : PipeOutcome.Exited, exitCode, stdoutText, stderrText, clock.Elapsed);
    }

    private static void KillTree(Process process)
    {
        try
        {
            // NOTE: .NET finds the tree through the parent links of live processes; a descendant that was
            // already re-parented (daemonized) is not found and keeps running.
            process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // The process exited between the timeout and the kill.
        }
    }

    // Copies the message and then closes standard input, which is the end of the message for the program.
    // A program may exit without reading everything, so the write fails with EPIPE and the exit status decides.
    private static async Task WriteInputAsync(Stream message, StreamWriter input, CancellationToken cancellation)
    {
        try
        {
            await message.CopyToAsync(input.BaseStream, 64 * 1024, cancellation);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            try
            {
                await input.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                // Flushing into a pipe the program already closed.
            }
        }
    }

    // Keeps the first OutputLimit bytes and reads on until the end of the output or the cancellation, so the
    // program does not block on a full pipe while it runs.
    private static async Task<string> CaptureAsync(Stream output, CancellationToken cancellation)
    {
        var kept = new MemoryStream();
        var buffer = new byte[8192];
        long total = 0;
        try
        {
            int read;
            while ((read = await output.ReadAsync(buffer, cancellation)) > 0)
            {
                int keep = (int)Math.Min(read, Math.Max(0, OutputLimit - kept.Length));
                kept.Write(buffer, 0, keep);
                total += read;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }

        string text = EscapeForLog(Encoding.UTF8.GetString(kept.GetBuffer(), 0, (int)kept.Length).TrimEnd('\n', '\r'));
        return total > kept.Length ? $"{text}... ({total} bytes)" : text;
    }

    // Line breaks and other control characters are escaped, so each run stays one log line.
    private static string EscapeForLog(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            builder.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return builder.ToString();
    }
}

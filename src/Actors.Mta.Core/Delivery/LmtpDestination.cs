using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Lmtp;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Delivers to one LMTP server through a small pool of connections: at most lmtp.max-connections at once,
/// LHLO once per connection, RSET between transactions, idle connections closed after lmtp.idle-timeout.
/// Jobs beyond the limit wait in this actor's own list, so a slow server delays only its own mail.
/// The network work runs in tasks; the actor only keeps the pool's state.
/// </summary>
public sealed class LmtpDestination : ReceiveActor, IWithTimers
{
    private sealed record JobDone(DeliverToDestination Job, LmtpClient Client, LmtpTransactionResult Result);

    private sealed record JobFailed(DeliverToDestination Job, Exception Error, bool WasReused);

    private sealed record VerifyDone(VerifyAtDestination Job, LmtpClient Client, SmtpReply Reply);

    private sealed record VerifyFailed(VerifyAtDestination Job, Exception Error);

    private sealed record IdleCheck
    {
        public static readonly IdleCheck Instance = new();
    }

    private readonly Destination.Lmtp _destination;
    private readonly MtaSettings _settings;
    private readonly Stack<(LmtpClient Client, DateTime IdleSince)> _idle = new();
    private readonly Queue<DeliverToDestination> _waiting = new();
    private readonly Queue<VerifyAtDestination> _verifications = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _busy;
    private readonly CircuitState _breaker;

    public ITimerScheduler Timers { get; set; } = null!;

    public LmtpDestination(Destination.Lmtp destination, MtaSettings settings)
    {
        _destination = destination;
        _settings = settings;
        _breaker = new CircuitState(settings.LmtpBreakerMaxFailures, settings.LmtpBreakerResetTimeout);
        Receive<DeliverToDestination>(OnJob);
        Receive<VerifyAtDestination>(OnVerify);
        Receive<VerifyDone>(OnVerifyDone);
        Receive<VerifyFailed>(OnVerifyFailed);
        Receive<JobDone>(OnJobDone);
        Receive<JobFailed>(OnJobFailed);
        Receive<IdleCheck>(_ => CloseIdleConnections());
    }

    protected override void PreStart() =>
        Timers.StartPeriodicTimer(IdleCheck.Instance, IdleCheck.Instance, _settings.LmtpIdleTimeout);

    // Nearly every message changes the pool, so its gauges are set after each one.
    protected override bool AroundReceive(Receive receive, object message)
    {
        bool handled = base.AroundReceive(receive, message);
        ServerMetrics.LmtpPool(_destination.Name, _busy, _idle.Count, _waiting.Count, _breaker.Current);
        return handled;
    }

    protected override void PostStop()
    {
        while (_idle.TryPop(out var idle))
        {
            _ = idle.Client.DisposeAsync().AsTask();
        }
    }

    private void OnJob(DeliverToDestination job)
    {
        if (!_breaker.AllowsAttempt(DateTime.UtcNow, _busy))
        {
            Defer(job, new SmtpReply(451, "4.4.1", "Mail delivery agent unavailable (circuit breaker open), try again later"));
            return;
        }

        if (_waiting.Count >= _settings.LmtpMaxWaiting && _idle.Count == 0 && _busy >= _settings.LmtpMaxConnections)
        {
            Defer(job, new SmtpReply(451, "4.4.5", "Mail delivery agent busy, try again later"));
            return;
        }

        _waiting.Enqueue(job);
        StartWaitingJobs();
    }

    private void Defer(DeliverToDestination job, SmtpReply reply)
    {
        var results = job.Envelope.Recipients.Select(r => new RecipientResult(r, reply, _destination.Name)).ToList();
        job.ReplyTo.Tell(new DestinationResults(job.QueueId, results));
    }

    private void OnVerify(VerifyAtDestination job)
    {
        if (!_breaker.AllowsAttempt(DateTime.UtcNow, running: 1) || _verifications.Count >= _settings.LmtpMaxWaiting)
        {
            job.ReplyTo.Tell(new DestinationVerified(job.Recipient, null));
            return;
        }

        _verifications.Enqueue(job);
        StartWaitingJobs();
    }

    private void OnVerifyDone(VerifyDone done)
    {
        _busy--;
        _idle.Push((done.Client, DateTime.UtcNow));
        done.Job.ReplyTo.Tell(new DestinationVerified(done.Job.Recipient, done.Reply));
        StartWaitingJobs();
    }

    private void OnVerifyFailed(VerifyFailed failed)
    {
        _busy--;
        var error = failed.Error is AggregateException { InnerException: { } inner } ? inner : failed.Error;
        _log.Info("Recipient check of <{Recipient}> at {Destination} failed, accepting it unverified: {Error}",
            failed.Job.Recipient.Address, _destination.Name, error.Message);
        failed.Job.ReplyTo.Tell(new DestinationVerified(failed.Job.Recipient, null));
        StartWaitingJobs();
    }

    private void StartWaitingJobs()
    {
        // Recipient checks go first: a client is waiting on each, and each takes one short round trip.
        while (_verifications.Count > 0 && (_idle.Count > 0 || _busy < _settings.LmtpMaxConnections))
        {
            var check = _verifications.Dequeue();
            LmtpClient? idleClient = _idle.TryPop(out var idleEntry) ? idleEntry.Client : null;
            _busy++;
            RunVerification(check, idleClient);
        }

        while (_waiting.Count > 0 && (_idle.Count > 0 || _busy < _settings.LmtpMaxConnections))
        {
            var job = _waiting.Dequeue();
            LmtpClient? client = _idle.TryPop(out var idle) ? idle.Client : null;
            _busy++;
            Run(job, client);
        }
    }

    private void Run(DeliverToDestination job, LmtpClient? reused)
    {
        var settings = _settings;
        var endpoint = _destination.Endpoint;
        Task.Run(async () =>
        {
            var client = reused ?? await LmtpClient.ConnectAsync(endpoint, settings.ServerName, settings.LmtpConnectTimeout, CancellationToken.None);
            try
            {
                var envelope = new LmtpEnvelope(job.Envelope.ReversePath, job.Envelope.Recipients, job.Envelope.MailParameters)
                {
                    RecipientParameters = job.Envelope.RecipientParameters,
                };
                await using var file = job.Data.OpenRead();
                if (BinaryContent.IsBinaryMime(job.Envelope.MailParameters))
                {
                    // LmtpClient sends DATA only, so a BINARYMIME message goes through when its content happens to be
                    // CRLF text, and otherwise fails for good: DATA would change it, and a retry would not help.
                    if (await BinaryContent.NeedsBinaryTransportAsync(file))
                    {
                        return (object)new JobDone(job, client, Rejected(UnsupportedBinaryContent, job.Envelope.Recipients.Count));
                    }

                    file.Position = 0;
                }

                var result = await client.SendAsync(envelope, file, settings.LmtpReplyTimeout, CancellationToken.None);
                if (result.NeedsReset && client.CanReuse)
                {
                    await client.ResetAsync(settings.LmtpReplyTimeout, CancellationToken.None);
                }

                return (object)new JobDone(job, client, result);
            }
            catch
            {
                await client.DisposeAsync();
                throw;
            }
        }).PipeTo(Self, failure: ex => new JobFailed(job, ex, reused is not null));
    }

    private static readonly SmtpReply UnsupportedBinaryContent = new(554, "5.6.1",
        "Message content not supported by the mailbox server: BINARYMIME content with NUL or bare CR or LF cannot be sent with LMTP DATA");

    private static LmtpTransactionResult Rejected(SmtpReply reply, int recipientCount) =>
        new(reply, Enumerable.Repeat(reply, recipientCount).ToArray(), new SmtpReply?[recipientCount]);

    private void RunVerification(VerifyAtDestination job, LmtpClient? reused)
    {
        var settings = _settings;
        var endpoint = _destination.Endpoint;
        Task.Run(async () =>
        {
            var client = reused ?? await LmtpClient.ConnectAsync(endpoint, settings.ServerName, settings.LmtpConnectTimeout, CancellationToken.None);
            try
            {
                var reply = await client.VerifyRecipientAsync(job.Recipient, settings.VerificationTimeout, CancellationToken.None);
                return (object)new VerifyDone(job, client, reply);
            }
            catch
            {
                await client.DisposeAsync();
                throw;
            }
        }).PipeTo(Self, failure: ex => new VerifyFailed(job, ex));
    }

    private void OnJobDone(JobDone done)
    {
        _busy--;
        if (_breaker.RecordSuccess())
        {
            _log.Info("Circuit breaker for {Destination} closed: delivery works again", _destination.Name);
        }

        if (done.Client.CanReuse)
        {
            _idle.Push((done.Client, DateTime.UtcNow));
        }
        else
        {
            _ = done.Client.DisposeAsync().AsTask();
        }

        var recipients = done.Job.Envelope.Recipients;
        var results = new List<RecipientResult>(recipients.Count);
        for (int i = 0; i < recipients.Count; i++)
        {
            SmtpReply rcpt = done.Result.RecipientReplies[i];
            SmtpReply reply = rcpt.IsPositive ? done.Result.DataReplies[i] ?? rcpt : rcpt;
            results.Add(new RecipientResult(recipients[i], reply, _destination.Name));
        }

        done.Job.ReplyTo.Tell(new DestinationResults(done.Job.QueueId, results));
        StartWaitingJobs();
    }

    private void OnJobFailed(JobFailed failed)
    {
        _busy--;
        var error = failed.Error is AggregateException { InnerException: { } inner } ? inner : failed.Error;
        if (failed.WasReused && error is IOException or LmtpProtocolException or System.Net.Sockets.SocketException)
        {
            // The server may have closed an idle connection; one retry on a fresh connection tells that
            // apart from a real failure.
            _log.Info("LMTP connection to {Destination} failed on reuse, retrying on a new connection: {Error}", _destination.Name, error.Message);
            _busy++;
            Run(failed.Job, null);
            return;
        }

        _log.Warning("{QueueId}: delivery to {Destination} failed: {Error}", failed.Job.QueueId, _destination.Name, error.Message);
        if (_breaker.RecordFailure(DateTime.UtcNow))
        {
            _log.Warning("Circuit breaker for {Destination} opened after {Failures} failures in a row; deferring its mail for {Reset}",
                _destination.Name, _settings.LmtpBreakerMaxFailures, _settings.LmtpBreakerResetTimeout);
            while (_waiting.TryDequeue(out var waiting))
            {
                Defer(waiting, new SmtpReply(451, "4.4.1", "Mail delivery agent unavailable (circuit breaker open), try again later"));
            }
        }

        Defer(failed.Job, new SmtpReply(451, "4.4.1", "Mail delivery agent unavailable, try again later"));
        StartWaitingJobs();
    }

    private void CloseIdleConnections()
    {
        var cutoff = DateTime.UtcNow - _settings.LmtpIdleTimeout;
        var keep = _idle.Where(i => i.IdleSince >= cutoff).Reverse().ToList();
        foreach (var stale in _idle.Where(i => i.IdleSince < cutoff))
        {
            _ = stale.Client.DisposeAsync().AsTask();
        }

        _idle.Clear();
        foreach (var item in keep)
        {
            _idle.Push(item);
        }
    }

    public static Props Props(Destination.Lmtp destination, MtaSettings settings) =>
        Akka.Actor.Props.Create(() => new LmtpDestination(destination, settings));
}

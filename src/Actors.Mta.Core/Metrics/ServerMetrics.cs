using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Queue;
using Actors.Mta.Protocol.Smtp;
using Prometheus;

namespace Actors.Mta.Core.Metrics;

/// <summary>How an SMTP session ended, the outcome label of actors_mta_sessions_total.</summary>
public enum SessionOutcome
{
    /// <summary>The client sent QUIT.</summary>
    Quit,

    /// <summary>The server closed the session after a command, data or delivery timeout.</summary>
    Timeout,

    /// <summary>The client closed the connection, or a read or write on it failed.</summary>
    Lost,

    /// <summary>The session actor failed and was stopped.</summary>
    Error,

    /// <summary>The server closed the session with 421 while shutting down.</summary>
    Shutdown,

    /// <summary>A connection got 421 before any session started: during shutdown, or over a connection limit.</summary>
    Rejected,

    /// <summary>
    /// The server closed the session for breaking a rule: too many commands, errors or transactions, input before
    /// the greeting, or a PROXY header from a peer not trusted to send one.
    /// </summary>
    Policy,
}

/// <summary>Why a RCPT command was rejected, the reason label of actors_mta_recipients_rejected_total.</summary>
public enum RecipientRejection
{
    /// <summary>The domain is not accepted here (550 5.7.1): the server never relays.</summary>
    Relay,

    /// <summary>The delivery agent reported that the mailbox does not exist.</summary>
    UnknownMailbox,

    /// <summary>The path or address has invalid syntax.</summary>
    Syntax,

    /// <summary>The transaction already has limits.max-recipients recipients (452 4.5.3).</summary>
    TooMany,
}

/// <summary>
/// The server's Prometheus metrics, in prometheus-net's default registry. Every metric is safe to update from
/// any thread, so actors update them directly, without a lock or a message of their own.
/// </summary>
public static class ServerMetrics
{
    private static readonly Gauge SessionsOpen = Prometheus.Metrics.CreateGauge(
        "actors_mta_sessions_open", "SMTP sessions open now.");

    private static readonly Counter Sessions = Prometheus.Metrics.CreateCounter(
        "actors_mta_sessions_total",
        "SMTP connections ended, by outcome: quit, timeout, lost (client closed or network error), error (session failed), " +
        "shutdown (closed with 421 at shutdown), rejected (421 before a session started: at shutdown or over a connection limit), " +
        "policy (closed for too many commands, errors or transactions, an early talker or an untrusted PROXY header).",
        "outcome");

    private static readonly Counter MessagesAccepted = Prometheus.Metrics.CreateCounter(
        "actors_mta_messages_accepted_total",
        "Messages whose final dot got a 250 reply: delivered, partly delivered with bounces notified, or queued.");

    private static readonly Counter MessagesRejected = Prometheus.Metrics.CreateCounter(
        "actors_mta_messages_rejected_total",
        "Messages rejected at DATA, by reason: size, bare_line_ending, nul, line_too_long, storage (spool or queue write failed).",
        "reason");

    private static readonly Counter RecipientsRejected = Prometheus.Metrics.CreateCounter(
        "actors_mta_recipients_rejected_total",
        "RCPT commands rejected, by reason: relay, unknown_mailbox, syntax, too_many.",
        "reason");

    private static readonly Counter ReceivedBytes = Prometheus.Metrics.CreateCounter(
        "actors_mta_received_bytes_total",
        "Message data received in DATA after dot-unstuffing, for accepted and rejected messages alike.");

    private static readonly Counter Recipients = Prometheus.Metrics.CreateCounter(
        "actors_mta_recipients_total",
        "Outcomes of delivery attempts per recipient, by status: sent, deferred, bounced. " +
        "A recipient deferred on several attempts counts once per attempt.",
        "status");

    private static readonly Histogram DeliveryLatency = Prometheus.Metrics.CreateHistogram(
        "actors_mta_delivery_latency_seconds",
        "Time from a message's arrival to the final outcome (sent or bounced) of each of its recipients.",
        new HistogramConfiguration
        {
            Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
        });

    private static readonly Gauge LmtpConnections = Prometheus.Metrics.CreateGauge(
        "actors_mta_lmtp_connections",
        "Connections to each LMTP destination, by state: busy (delivering or checking a recipient) or idle (pooled).",
        "destination", "state");

    private static readonly Gauge LmtpWaiting = Prometheus.Metrics.CreateGauge(
        "actors_mta_lmtp_waiting_deliveries",
        "Deliveries to each LMTP destination waiting for a free connection.",
        "destination");

    private static readonly Gauge LmtpBreakerState = Prometheus.Metrics.CreateGauge(
        "actors_mta_lmtp_circuit_breaker_state",
        "Circuit breaker of each LMTP destination: 0 closed, 1 half-open, 2 open. " +
        "An open breaker shows 2 until the next delivery or check after its reset timeout moves it to half-open.",
        "destination");

    private static readonly Gauge QueueMessages = Prometheus.Metrics.CreateGauge(
        "actors_mta_queue_messages", "Messages in the queue, updated at each queue scan.");

    private static readonly Gauge QueueOldestAge = Prometheus.Metrics.CreateGauge(
        "actors_mta_queue_oldest_message_age_seconds",
        "Time since the arrival of the oldest message in the queue (0 when the queue is empty), updated at each queue scan.");

    // Every label value is created here, so each series exists from the start and rate() counts its first increase.
    private static readonly Counter.Child[] SessionsByOutcome = ChildPerValue<SessionOutcome>(Sessions);
    private static readonly Counter.Child[] RecipientsRejectedByReason = ChildPerValue<RecipientRejection>(RecipientsRejected);

    private static readonly Counter.Child RejectedForSize = MessagesRejected.WithLabels("size");
    private static readonly Counter.Child RejectedForBareLineEnding = MessagesRejected.WithLabels("bare_line_ending");
    private static readonly Counter.Child RejectedForNul = MessagesRejected.WithLabels("nul");
    private static readonly Counter.Child RejectedForLineLength = MessagesRejected.WithLabels("line_too_long");
    private static readonly Counter.Child RejectedForStorage = MessagesRejected.WithLabels("storage");

    private static readonly Counter.Child RecipientsSent = Recipients.WithLabels("sent");
    private static readonly Counter.Child RecipientsDeferred = Recipients.WithLabels("deferred");
    private static readonly Counter.Child RecipientsBounced = Recipients.WithLabels("bounced");

    public static void SessionStarted() => SessionsOpen.Inc();

    /// <summary>Counts the end of a session that <see cref="SessionStarted"/> counted as open.</summary>
    public static void SessionEnded(SessionOutcome outcome)
    {
        SessionsOpen.Dec();
        SessionsByOutcome[(int)outcome].Inc();
    }

    /// <summary>Counts a connection closed with 421 before any session started.</summary>
    public static void ConnectionRejected() => SessionsByOutcome[(int)SessionOutcome.Rejected].Inc();

    public static void RecipientRejected(RecipientRejection reason) => RecipientsRejectedByReason[(int)reason].Inc();

    public static void MessageAccepted() => MessagesAccepted.Inc();

    /// <summary>Counts the bytes of a message whose final dot arrived, whatever its reply.</summary>
    public static void MessageReceived(long size) => ReceivedBytes.Inc(size);

    /// <summary>Counts a message rejected at its final dot because of <paramref name="error"/>, or for storage when there is none.</summary>
    public static void MessageRejected(DataError error)
    {
        var counter = error switch
        {
            DataError.MessageTooLarge => RejectedForSize,
            DataError.BareLineEnding => RejectedForBareLineEnding,
            DataError.NulCharacter => RejectedForNul,
            DataError.LineTooLong => RejectedForLineLength,
            _ => RejectedForStorage,
        };
        counter.Inc();
    }

    /// <summary>Counts a message rejected because the spool or the queue could not store it.</summary>
    public static void MessageRejectedForStorage() => RejectedForStorage.Inc();

    /// <summary>
    /// Counts one recipient's result of a delivery attempt. A final result (2xx or 5xx) also records the time
    /// since <paramref name="arrival"/> in the latency histogram.
    /// </summary>
    public static void RecipientOutcome(SmtpReply reply, DateTimeOffset arrival)
    {
        if (reply.IsTransientFailure)
        {
            RecipientsDeferred.Inc();
            return;
        }

        (reply.IsPositive ? RecipientsSent : RecipientsBounced).Inc();
        DeliveryLatency.Observe(Math.Max(0, (DateTimeOffset.UtcNow - arrival).TotalSeconds));
    }

    /// <summary>Counts recipients bounced because their message outlived queue.lifetime.</summary>
    public static void RecipientsExpired(int count, DateTimeOffset arrival)
    {
        RecipientsBounced.Inc(count);
        DeliveryLatency.Observe(Math.Max(0, (DateTimeOffset.UtcNow - arrival).TotalSeconds), count);
    }

    /// <summary>Publishes the state of one LMTP destination's connection pool and circuit breaker.</summary>
    public static void LmtpPool(string destination, int busy, int idle, int waiting, CircuitState.State breaker)
    {
        LmtpConnections.WithLabels(destination, "busy").Set(busy);
        LmtpConnections.WithLabels(destination, "idle").Set(idle);
        LmtpWaiting.WithLabels(destination).Set(waiting);
        LmtpBreakerState.WithLabels(destination).Set(breaker switch
        {
            CircuitState.State.Closed => 0,
            CircuitState.State.HalfOpen => 1,
            _ => 2,
        });
    }

    public static void Queue(QueueStatus status)
    {
        QueueMessages.Set(status.Count);
        QueueOldestAge.Set(status.OldestAge.TotalSeconds);
    }

    // One child per enum value, indexed by the value, labelled in snake case (UnknownMailbox: unknown_mailbox).
    private static Counter.Child[] ChildPerValue<T>(Counter counter)
        where T : struct, Enum
    {
        var values = Enum.GetValues<T>();
        var children = new Counter.Child[values.Length];
        foreach (T value in values)
        {
            children[Convert.ToInt32(value)] = counter.WithLabels(SnakeCase(value.ToString()));
        }

        return children;
    }

    private static string SnakeCase(string name)
    {
        var text = new System.Text.StringBuilder(name.Length + 4);
        foreach (char c in name)
        {
            if (char.IsUpper(c) && text.Length > 0)
            {
                text.Append('_');
            }

            text.Append(char.ToLowerInvariant(c));
        }

        return text.ToString();
    }
}

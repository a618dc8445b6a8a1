using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;

namespace Actors.Mta.Core.Delivery;

/// <summary>The envelope of an accepted message (RFC 5321 section 2.3.1).</summary>
/// <param name="ReversePath">The sender, or null for the null reverse-path.</param>
/// <param name="Recipients">The accepted recipients, each once.</param>
/// <param name="MailParameters">The ESMTP parameters of MAIL, keyword upper case.</param>
public sealed record MessageEnvelope(
    Mailbox? ReversePath,
    IReadOnlyList<Mailbox> Recipients,
    IReadOnlyList<KeyValuePair<string, string?>> MailParameters)
{
    public string SenderText => ReversePath?.Address ?? "";

    /// <summary>
    /// The ESMTP parameters of each recipient's RCPT (RFC 3461 NOTIFY and ORCPT), keyword upper case, by address;
    /// a recipient not listed had none. Splitting the recipients by destination keeps the whole map.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string?>>> RecipientParameters { get; init; } =
        new Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>>();

    /// <summary>Returns the RCPT parameters of <paramref name="recipient"/>, empty when it had none.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> ParametersOf(Mailbox recipient) =>
        RecipientParameters.TryGetValue(recipient.Address, out var parameters) ? parameters : [];
}

/// <summary>Asks the delivery manager to deliver a received message. It answers the sender with a <see cref="DeliveryReport"/>.</summary>
/// <param name="QueueId">The message's id in logs and in the spool.</param>
/// <param name="Data">The message, Received header included. Delivery owns it from now on and deletes its file when done.</param>
public sealed record DeliverMessage(string QueueId, MessageEnvelope Envelope, MessageData Data, long Size)
{
    /// <summary>True for a retry from the queue: the file stays where it is and the outcome goes back to the queue.</summary>
    public bool FromQueue { get; init; }

    /// <summary>The delivery attempt this is, from 1.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>True for a notification made by this server; its recipient may be outside the accepted domains.</summary>
    public bool IsNotification { get; init; }

    /// <summary>When the message arrived, for notifications about it.</summary>
    public DateTimeOffset Arrival { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>The final reply for one recipient: 2xx delivered, 4xx deferred, 5xx bounced.</summary>
public sealed record RecipientResult(Mailbox Recipient, SmtpReply Reply, string Destination);

/// <summary>The outcome of a <see cref="DeliverMessage"/>, one result per recipient.</summary>
/// <param name="Queued">True when the message was written to the queue for the recipients still pending.</param>
public sealed record DeliveryReport(string QueueId, IReadOnlyList<RecipientResult> Results, bool Queued = false)
{
    public bool AllDelivered => Results.All(r => r.Reply.IsPositive);
    public bool AnyDeferred => Results.Any(r => r.Reply.IsTransientFailure);
    public bool AllBounced => Results.All(r => r.Reply.IsPermanentFailure);
}

/// <summary>Delivers part of a message, the recipients that share one destination.</summary>
public sealed record DeliverToDestination(string QueueId, MessageEnvelope Envelope, MessageData Data, IActorRef ReplyTo);

/// <summary>A destination's results for a <see cref="DeliverToDestination"/>.</summary>
public sealed record DestinationResults(string QueueId, IReadOnlyList<RecipientResult> Results);

/// <summary>
/// Tells delivery that the server is shutting down: deliveries whose client waits must end within the time
/// given, queueing what is not delivered by then, and the queue starts no more retries.
/// </summary>
public sealed record DrainDelivery(TimeSpan Within);

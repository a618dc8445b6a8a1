using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Addresses;

namespace Actors.Mta.Core.Queue;

/// <summary>
/// Asks the queue to take a message whose delivery while the client waited was not finished: its data goes
/// into the queue (a file in incoming/ is moved there) with an envelope of the pending recipients, fsynced, and recipients that
/// failed for good get a notification. Answered with <see cref="Enqueued"/> or <see cref="EnqueueFailed"/>;
/// only after <see cref="Enqueued"/> may the client be told 250.
/// </summary>
public sealed record EnqueueMessage(
    string QueueId,
    MessageData Data,
    MessageEnvelope Envelope,
    IReadOnlyList<RecipientResult> Pending,
    IReadOnlyList<RecipientResult> Bounced,
    long Size,
    DateTimeOffset Arrival);

public sealed record Enqueued(string QueueId);

public sealed record EnqueueFailed(string QueueId, string Error);

/// <summary>
/// Asks the queue to send the sender a notification for recipients that failed for good, made durable before
/// the reply <see cref="Notified"/>. The data file is only read.
/// </summary>
public sealed record NotifyFailures(string QueueId, MessageEnvelope Envelope, DateTimeOffset Arrival, IReadOnlyList<RecipientResult> Failed, MessageData Data);

public sealed record Notified(string QueueId);

/// <summary>Results that arrived for a message after it was queued; delivered and bounced recipients leave its entry.</summary>
public sealed record LateResults(string QueueId, IReadOnlyList<RecipientResult> Results);

/// <summary>Requests the queue's size and the age of its oldest message. The reply is <see cref="QueueStatus"/>.</summary>
public sealed record GetQueueStatus
{
    public static readonly GetQueueStatus Instance = new();
}

public sealed record QueueStatus(bool Loaded, int Count, TimeSpan OldestAge);

/// <summary>Converts addresses stored in envelope files back into mailboxes.</summary>
public static class Mailboxes
{
    /// <summary>Parses an address stored in an envelope file back into a mailbox.</summary>
    public static Mailbox Parse(string address)
    {
        int at = address.LastIndexOf('@');
        return at < 0 ? new Mailbox(address, "") : new Mailbox(address[..at], address[(at + 1)..]);
    }
}

namespace Actors.Mta.Core.Spool;

/// <summary>
/// The envelope of a queued message as stored next to its data in the spool. Only recipients still pending
/// are kept; delivered and bounced ones are removed when the entry is rewritten.
/// </summary>
public sealed record QueueEntry
{
    public required string QueueId { get; init; }

    /// <summary>The reverse-path without brackets, empty for the null path.</summary>
    public required string Sender { get; init; }

    public required IReadOnlyList<KeyValuePair<string, string?>> MailParameters { get; init; }
    public required IReadOnlyList<QueuedRecipient> Recipients { get; init; }
    public required DateTimeOffset ArrivalTime { get; init; }
    public required int Attempts { get; init; }
    public required DateTimeOffset NextAttempt { get; init; }

    /// <summary>Size of the message data in bytes.</summary>
    public required long Size { get; init; }

    /// <summary>True for a delivery status notification made by this server, which never gets one itself.</summary>
    public bool IsNotification { get; init; }
}

/// <summary>A recipient still to be delivered, with the last reply it got.</summary>
/// <param name="Parameters">
/// The recipient's RCPT parameters (RFC 3461 NOTIFY and ORCPT), or null for none. Entries written before this
/// field existed have none.
/// </param>
public sealed record QueuedRecipient(string Address, string? LastReply, IReadOnlyList<KeyValuePair<string, string?>>? Parameters = null);

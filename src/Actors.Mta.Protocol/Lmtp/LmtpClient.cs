using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>Where an LMTP server listens: a TCP host and port, or a unix domain socket path.</summary>
public abstract record LmtpEndpoint
{
    public sealed record Tcp(string Host, int Port) : LmtpEndpoint
    {
        public override string ToString() => $"{Host}:{Port}";
    }

    public sealed record Unix(string Path) : LmtpEndpoint
    {
        public override string ToString() => "unix:" + Path;
    }
}

/// <summary>The envelope of one LMTP transaction.</summary>
/// <param name="ReversePath">The sender, or null for the null reverse-path.</param>
/// <param name="Recipients">The recipients, in the order their replies are expected after DATA.</param>
/// <param name="MailParameters">ESMTP parameters for MAIL, such as BODY=8BITMIME or SMTPUTF8 (value null when it has none).</param>
public sealed record LmtpEnvelope(
    Mailbox? ReversePath,
    IReadOnlyList<Mailbox> Recipients,
    IReadOnlyList<KeyValuePair<string, string?>> MailParameters)
{
    /// <summary>RCPT parameters (RFC 3461 NOTIFY and ORCPT) by recipient address; a recipient not listed has none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string?>>> RecipientParameters { get; init; } =
        new Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>>();
}

/// <summary>
/// The outcome of one LMTP transaction: the MAIL reply, one RCPT reply per recipient, and for each recipient
/// that RCPT accepted, its reply after the data (RFC 2033 section 4.2). A recipient that RCPT rejected has no data reply.
/// </summary>
public sealed record LmtpTransactionResult(
    SmtpReply MailReply,
    IReadOnlyList<SmtpReply> RecipientReplies,
    IReadOnlyList<SmtpReply?> DataReplies)
{
    /// <summary>
    /// True when the server may still be inside the mail transaction, so RSET must come before another MAIL on the
    /// connection. False after a rejected MAIL, and after the data when every reply to it was read, because the
    /// server then clears its state (RFC 5321 section 4.1.1.4).
    /// </summary>
    public bool NeedsReset { get; init; } = true;
}

using Actors.Mta.Protocol.Addresses;

namespace Actors.Mta.Core.Sessions;

/// <summary>The mail transaction being built between MAIL and the end of the data (RFC 5321 section 3.3).</summary>
internal sealed class Transaction
{
    public Transaction(Mailbox? reversePath, IReadOnlyList<KeyValuePair<string, string?>> parameters, bool smtpUtf8)
    {
        ReversePath = reversePath;
        Parameters = parameters;
        SmtpUtf8 = smtpUtf8;
    }

    public Mailbox? ReversePath { get; }
    public IReadOnlyList<KeyValuePair<string, string?>> Parameters { get; }
    public bool SmtpUtf8 { get; }
    public List<Mailbox> Recipients { get; } = new();
}

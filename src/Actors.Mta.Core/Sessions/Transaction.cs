using Actors.Mta.Protocol.Addresses;

namespace Actors.Mta.Core.Sessions;

/// <summary>The mail transaction being built between MAIL and the end of the data (RFC 5321 section 3.3).</summary>
internal sealed class Transaction
{
    public Transaction(Mailbox? reversePath, IReadOnlyList<KeyValuePair<string, string?>> parameters, bool smtpUtf8, bool binaryMime = false)
    {
        ReversePath = reversePath;
        Parameters = parameters;
        SmtpUtf8 = smtpUtf8;
        BinaryMime = binaryMime;
    }

    public Mailbox? ReversePath { get; }
    public IReadOnlyList<KeyValuePair<string, string?>> Parameters { get; }
    public bool SmtpUtf8 { get; }

    /// <summary>True for MAIL with BODY=BINARYMIME (RFC 3030 section 3), whose data may only come by BDAT.</summary>
    public bool BinaryMime { get; }

    public List<Mailbox> Recipients { get; } = new();

    /// <summary>The RCPT parameters of each accepted recipient that had any, by address.</summary>
    public Dictionary<string, IReadOnlyList<KeyValuePair<string, string?>>> RecipientParameters { get; } = new(StringComparer.Ordinal);

    /// <summary>True once a BDAT chunk was accepted, after which DATA is a sequence error.</summary>
    public bool Chunked { get; set; }

    /// <summary>Octets of message content in the accepted BDAT chunks so far.</summary>
    public long ChunkedSize { get; set; }

    /// <summary>True when a BDAT chunk contained a NUL octet, which only BINARYMIME allows.</summary>
    public bool ChunksContainNul { get; set; }
}

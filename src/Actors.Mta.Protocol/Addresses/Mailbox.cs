namespace Actors.Mta.Protocol.Addresses;

/// <summary>
/// A mailbox from an SMTP path (RFC 5321 section 4.1.2, with the UTF-8 forms of RFC 6531).
/// </summary>
/// <param name="LocalPart">The local part as written on the wire, quotes and escapes included.</param>
/// <param name="Domain">The domain as written: a (U-label or A-label) domain name, or an address literal in brackets.</param>
public sealed record Mailbox(string LocalPart, string Domain)
{
    /// <summary>The mailbox as it is written inside angle brackets: local-part@domain.</summary>
    public string Address => LocalPart + "@" + Domain;

    /// <summary>True when the domain is an address literal such as [192.0.2.1] or [IPv6:2001:db8::1].</summary>
    public bool IsAddressLiteral => Domain.StartsWith('[');

    /// <summary>True when any character is outside US-ASCII, so relaying it needs SMTPUTF8.</summary>
    public bool NeedsSmtpUtf8 => !System.Text.Ascii.IsValid(LocalPart) || !System.Text.Ascii.IsValid(Domain);

    public override string ToString() => Address;
}

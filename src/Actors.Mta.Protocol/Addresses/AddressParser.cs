using System.Text;

namespace Actors.Mta.Protocol.Addresses;

/// <summary>Outcome of parsing a path: a mailbox, the null path, or the reason it is invalid.</summary>
public readonly record struct PathParseResult(bool Success, Mailbox? Mailbox, string? Error)
{
    public static PathParseResult Ok(Mailbox? mailbox) => new(true, mailbox, null);
    public static PathParseResult Invalid(string error) => new(false, null, error);
}

/// <summary>
/// Parses SMTP paths by the RFC 5321 grammar (section 4.1.2), extended by RFC 6531 for UTF-8.
/// </summary>
/// <remarks>
/// The input is the path exactly as it follows "MAIL FROM:" or "RCPT TO:", without ESMTP parameters and
/// without surrounding spaces. Parsing never throws; every failure is an <see cref="PathParseResult.Invalid"/>
/// whose error is a short sentence fit for an SMTP reply.
/// </remarks>
public static class AddressParser
{
    /// <summary>Maximum length of a reverse-path or forward-path, brackets included (RFC 5321 section 4.5.3.1.3).</summary>
    public const int MaxPathOctets = 256;

    /// <summary>Maximum length of a local part (RFC 5321 section 4.5.3.1.1).</summary>
    public const int MaxLocalPartOctets = 64;

    /// <summary>
    /// Parses a reverse-path such as "&lt;user@example.com&gt;" or the null path "&lt;&gt;".
    /// A source route (A-d-l) is accepted and dropped, as RFC 5321 section 4.1.1.3 asks.
    /// UTF-8 is accepted only when <paramref name="allowUtf8"/> is true (the SMTPUTF8 parameter was given).
    /// </summary>
    public static PathParseResult ParseReversePath(ReadOnlySpan<char> text, bool allowUtf8) =>
        ParsePath(text, allowUtf8, isReversePath: true);

    /// <summary>
    /// Parses a forward-path such as "&lt;user@example.com&gt;" or "&lt;Postmaster&gt;" (returned with an empty domain).
    /// The null path is invalid here. "&lt;Postmaster&gt;" is matched case-insensitively and always returned
    /// with the local part spelled "Postmaster" (RFC 5321 section 4.5.1).
    /// </summary>
    public static PathParseResult ParseForwardPath(ReadOnlySpan<char> text, bool allowUtf8) =>
        ParsePath(text, allowUtf8, isReversePath: false);

    private static PathParseResult ParsePath(ReadOnlySpan<char> text, bool allowUtf8, bool isReversePath)
    {
        if (text.IsEmpty)
        {
            return PathParseResult.Invalid("Missing address");
        }

        string? characterError = CheckCharacters(text, allowUtf8);
        if (characterError is not null)
        {
            return PathParseResult.Invalid(characterError);
        }

        if (text.Length < 2 || text[0] != '<' || text[^1] != '>')
        {
            return PathParseResult.Invalid("Address must be enclosed in angle brackets");
        }

        if (Encoding.UTF8.GetByteCount(text) > MaxPathOctets)
        {
            return PathParseResult.Invalid($"Address longer than {MaxPathOctets} octets");
        }

        ReadOnlySpan<char> inner = text[1..^1];
        if (inner.Length == 0)
        {
            return isReversePath
                ? PathParseResult.Ok(null)
                : PathParseResult.Invalid("Null path is not allowed as a recipient");
        }

        // RFC 5321 section 4.1.1.3: "RCPT TO:<Postmaster>" without a domain must be accepted.
        if (!isReversePath && inner.Equals("Postmaster", StringComparison.OrdinalIgnoreCase))
        {
            return PathParseResult.Ok(new Mailbox("Postmaster", ""));
        }

        int mailboxStart = 0;
        if (inner[0] == '@')
        {
            string? routeError = SkipSourceRoute(inner, allowUtf8, out mailboxStart);
            if (routeError is not null)
            {
                return PathParseResult.Invalid(routeError);
            }
        }

        return ParseMailbox(inner[mailboxStart..], allowUtf8);
    }

    /// <summary>
    /// Rejects control characters, characters that cannot be encoded as UTF-8 (unpaired surrogates), and any
    /// non-ASCII character when SMTPUTF8 was not requested. Done up front, so the grammar code gets only characters it may accept.
    /// </summary>
    private static string? CheckCharacters(ReadOnlySpan<char> text, bool allowUtf8)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsControl(c))
            {
                return "Address contains a control character";
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return "Address is not valid UTF-8";
            }

            if (c > 0x7F && !allowUtf8)
            {
                return "Non-ASCII address requires SMTPUTF8";
            }
        }

        return null;
    }

    /// <summary>
    /// Checks the A-d-l of a path ("@a.example,@b.example:") and sets <paramref name="mailboxStart"/> to the index
    /// after its colon. RFC 5321 section 4.1.1.3 and appendix C: the route must be accepted but is ignored.
    /// </summary>
    private static string? SkipSourceRoute(ReadOnlySpan<char> inner, bool allowUtf8, out int mailboxStart)
    {
        mailboxStart = 0;
        int colon = inner.IndexOf(':');
        if (colon < 0)
        {
            return "Missing local part in address";
        }

        ReadOnlySpan<char> route = inner[..colon];
        foreach (Range range in route.Split(','))
        {
            ReadOnlySpan<char> atDomain = route[range];
            if (atDomain.Length < 2 || atDomain[0] != '@' || DomainGrammar.CheckDomain(atDomain[1..], allowUtf8) is not null)
            {
                return "Invalid source route in address";
            }
        }

        mailboxStart = colon + 1;
        return null;
    }

    // Allocates only the mailbox that is returned: its local part and domain strings.
    private static PathParseResult ParseMailbox(ReadOnlySpan<char> mailbox, bool allowUtf8)
    {
        if (mailbox.Length == 0)
        {
            return PathParseResult.Invalid("Missing mailbox in address");
        }

        int localPartEnd = LocalPartGrammar.FindEnd(mailbox, allowUtf8);
        if (localPartEnd < 0)
        {
            return PathParseResult.Invalid("Invalid local part in address");
        }

        if (localPartEnd == 0)
        {
            return PathParseResult.Invalid(mailbox[0] == '@' ? "Missing local part in address" : "Invalid local part in address");
        }

        ReadOnlySpan<char> localPart = mailbox[..localPartEnd];
        if (localPartEnd == mailbox.Length)
        {
            return PathParseResult.Invalid("Missing domain in address");
        }

        if (mailbox[localPartEnd] != '@')
        {
            return PathParseResult.Invalid("Invalid local part in address");
        }

        if (Encoding.UTF8.GetByteCount(localPart) > MaxLocalPartOctets)
        {
            return PathParseResult.Invalid($"Local part longer than {MaxLocalPartOctets} octets");
        }

        ReadOnlySpan<char> domain = mailbox[(localPartEnd + 1)..];
        string? domainError = domain.StartsWith('[')
            ? DomainGrammar.CheckAddressLiteral(domain)
            : DomainGrammar.CheckDomain(domain, allowUtf8);
        if (domainError is not null)
        {
            return PathParseResult.Invalid(domainError);
        }

        return PathParseResult.Ok(new Mailbox(localPart.ToString(), domain.ToString()));
    }
}

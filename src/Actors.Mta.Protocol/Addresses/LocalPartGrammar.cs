namespace Actors.Mta.Protocol.Addresses;

/// <summary>
/// The Local-part rule of RFC 5321 section 4.1.2 (Dot-string / Quoted-string), with RFC 6531 section 3.3 adding
/// UTF8-non-ascii to atext and qtextSMTP.
/// </summary>
/// <remarks>
/// Callers must reject control characters, unpaired surrogates and (without SMTPUTF8) non-ASCII characters
/// before calling, so any character above U+007F seen here is UTF8-non-ascii that is allowed.
/// </remarks>
internal static class LocalPartGrammar
{
    /// <summary>
    /// Returns the index just after the local part that starts <paramref name="mailbox"/>, or -1 when the
    /// local part is not a valid Dot-string or Quoted-string. Returns 0 for an empty Dot-string.
    /// </summary>
    public static int FindEnd(ReadOnlySpan<char> mailbox, bool allowUtf8) =>
        mailbox.StartsWith('"') ? FindQuotedStringEnd(mailbox, allowUtf8) : FindDotStringEnd(mailbox, allowUtf8);

    /// <summary>True for atext (RFC 5322 section 3.2.3), the characters of a Dot-string atom.</summary>
    public static bool IsAtext(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".Contains(c);

    private static int FindDotStringEnd(ReadOnlySpan<char> mailbox, bool allowUtf8)
    {
        int end = 0;
        while (end < mailbox.Length && IsDotStringChar(mailbox[end], allowUtf8))
        {
            end++;
        }

        if (end == 0)
        {
            return 0;
        }

        // Dot-string = Atom *("." Atom) and Atom = 1*atext: no leading, trailing or doubled dot.
        ReadOnlySpan<char> dotString = mailbox[..end];
        bool validDots = dotString[0] != '.' && dotString[^1] != '.' && !dotString.Contains("..", StringComparison.Ordinal);
        return validDots ? end : -1;
    }

    private static bool IsDotStringChar(char c, bool allowUtf8) =>
        c == '.' || IsAtext(c) || (allowUtf8 && c > 0x7F);

    private static int FindQuotedStringEnd(ReadOnlySpan<char> mailbox, bool allowUtf8)
    {
        for (int i = 1; i < mailbox.Length; i++)
        {
            char c = mailbox[i];
            if (c == '"')
            {
                return i + 1;
            }

            if (c == '\\')
            {
                // quoted-pairSMTP = %d92 %d32-126: RFC 6531 does not extend it, so a non-ASCII character
                // cannot be escaped.
                if (i + 1 >= mailbox.Length || mailbox[i + 1] is < ' ' or > '~')
                {
                    return -1;
                }

                i++;
                continue;
            }

            if (!IsQtextSmtp(c, allowUtf8))
            {
                return -1;
            }
        }

        return -1;
    }

    /// <summary>qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF8-non-ascii with SMTPUTF8.</summary>
    private static bool IsQtextSmtp(char c, bool allowUtf8) =>
        c is >= ' ' and <= '~' and not '"' and not '\\' || (allowUtf8 && c > 0x7F);
}

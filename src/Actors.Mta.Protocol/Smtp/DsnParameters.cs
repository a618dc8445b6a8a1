using System.Globalization;
using System.Text;

namespace Actors.Mta.Protocol.Smtp;

/// <summary>
/// Validation and decoding of the DSN parameters of RFC 3461: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT.
/// Each validator returns null for a valid value, or the reason it is invalid, for a 501 reply.
/// </summary>
public static class DsnParameters
{
    /// <summary>Longest ENVID value, in characters of its xtext form (RFC 3461 section 4.4).</summary>
    public const int MaxEnvelopeIdLength = 100;

    /// <summary>Longest ORCPT value, in characters of its encoded form (RFC 3461 section 4.2).</summary>
    public const int MaxOriginalRecipientLength = 500;

    private static readonly string[] NotifyKeywords = ["SUCCESS", "FAILURE", "DELAY"];

    /// <summary>
    /// Checks RET=FULL or RET=HDRS (RFC 3461 section 4.3), without regard to case. Pass an empty value for a
    /// parameter given without one, as for the other validators.
    /// </summary>
    public static string? ValidateRet(ReadOnlySpan<char> value) =>
        value.Equals("FULL", StringComparison.OrdinalIgnoreCase) || value.Equals("HDRS", StringComparison.OrdinalIgnoreCase)
            ? null
            : "Invalid RET value, expected FULL or HDRS";

    /// <summary>Checks ENVID=xtext of at most <see cref="MaxEnvelopeIdLength"/> characters whose decoded text is printable.</summary>
    public static string? ValidateEnvelopeId(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty || value.Length > MaxEnvelopeIdLength)
        {
            return $"Invalid ENVID value, expected 1 to {MaxEnvelopeIdLength} characters of xtext";
        }

        return IsValidXtext(value) ? null : "Invalid ENVID value, expected printable xtext";
    }

    /// <summary>
    /// Checks NOTIFY=NEVER or NOTIFY= a comma-separated list of SUCCESS, FAILURE and DELAY, each at most once
    /// (RFC 3461 section 4.1), without regard to case.
    /// </summary>
    public static string? ValidateNotify(ReadOnlySpan<char> value)
    {
        const string Error = "Invalid NOTIFY value, expected NEVER or a list of SUCCESS, FAILURE and DELAY";
        if (value.Equals("NEVER", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        // One bit per entry of NotifyKeywords, to find a keyword listed twice.
        int seen = 0;
        foreach (Range range in value.Split(','))
        {
            int index = IndexOfNotifyKeyword(value[range]);
            if (index < 0 || (seen & (1 << index)) != 0)
            {
                return Error;
            }

            seen |= 1 << index;
        }

        return null;
    }

    /// <summary>Checks ORCPT=addr-type;xtext (RFC 3461 section 4.2), such as rfc822;alice@example.com.</summary>
    public static string? ValidateOriginalRecipient(ReadOnlySpan<char> value)
    {
        const string Error = "Invalid ORCPT value, expected address-type;xtext such as rfc822;user@example.com";
        if (value.Length > MaxOriginalRecipientLength)
        {
            return Error;
        }

        int separator = value.IndexOf(';');
        if (separator <= 0 || separator == value.Length - 1)
        {
            return Error;
        }

        // addr-type = atom; the registered types are rfc822 and, under RFC 6533, utf-8.
        foreach (char c in value[..separator])
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return Error;
            }
        }

        return IsValidXtext(value[(separator + 1)..]) ? null : Error;
    }

    /// <summary>Returns true when NOTIFY allows a failure notification: when it is absent or lists FAILURE.</summary>
    public static bool NotifiesOnFailure(IReadOnlyList<KeyValuePair<string, string?>> recipientParameters)
    {
        string? notify = recipientParameters.FirstOrDefault(p => p.Key == "NOTIFY").Value;
        return notify is null || notify.Split(',').Contains("FAILURE", StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Decodes xtext (RFC 3461 section 4): "+" and two hexadecimal digits stand for one octet, and every other
    /// character stands for itself. Fails on a malformed "+" escape, on "=" or a control character, and on a
    /// decoded control character, which could break the header field the text is written to. Characters beyond
    /// ASCII pass through, for the UTF-8 forms that SMTPUTF8 sessions may send.
    /// </summary>
    public static bool TryDecodeXtext(string text, out string decoded)
    {
        var result = new StringBuilder(text.Length);
        decoded = "";
        int index = 0;
        while (index < text.Length)
        {
            if (!TryReadXtextChar(text, ref index, out char c))
            {
                return false;
            }

            result.Append(c);
        }

        decoded = result.ToString();
        return decoded.Length > 0;
    }

    /// <summary>Returns true when <see cref="TryDecodeXtext"/> would succeed, without building the decoded text.</summary>
    public static bool IsValidXtext(ReadOnlySpan<char> text)
    {
        int index = 0;
        while (index < text.Length)
        {
            if (!TryReadXtextChar(text, ref index, out _))
            {
                return false;
            }
        }

        return text.Length > 0;
    }

    // Decodes the xtext character or "+" escape at index and moves index past it.
    private static bool TryReadXtextChar(ReadOnlySpan<char> text, ref int index, out char decoded)
    {
        decoded = text[index];
        if (decoded == '+')
        {
            if (index + 2 >= text.Length || !char.IsAsciiHexDigit(text[index + 1]) || !char.IsAsciiHexDigit(text[index + 2]))
            {
                return false;
            }

            decoded = (char)byte.Parse(text.Slice(index + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            index += 2;
        }
        else if (decoded == '=')
        {
            return false;
        }

        index++;
        return !char.IsControl(decoded);
    }

    private static int IndexOfNotifyKeyword(ReadOnlySpan<char> keyword)
    {
        for (int i = 0; i < NotifyKeywords.Length; i++)
        {
            if (keyword.Equals(NotifyKeywords[i], StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}

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

    /// <summary>Checks RET=FULL or RET=HDRS (RFC 3461 section 4.3), without regard to case.</summary>
    public static string? ValidateRet(string? value) =>
        string.Equals(value, "FULL", StringComparison.OrdinalIgnoreCase) || string.Equals(value, "HDRS", StringComparison.OrdinalIgnoreCase)
            ? null
            : "Invalid RET value, expected FULL or HDRS";

    /// <summary>Checks ENVID=xtext of at most <see cref="MaxEnvelopeIdLength"/> characters whose decoded text is printable.</summary>
    public static string? ValidateEnvelopeId(string? value)
    {
        if (value is null || value.Length > MaxEnvelopeIdLength)
        {
            return $"Invalid ENVID value, expected 1 to {MaxEnvelopeIdLength} characters of xtext";
        }

        return TryDecodeXtext(value, out _) ? null : "Invalid ENVID value, expected printable xtext";
    }

    /// <summary>
    /// Checks NOTIFY=NEVER or NOTIFY= a comma-separated list of SUCCESS, FAILURE and DELAY, each at most once
    /// (RFC 3461 section 4.1), without regard to case.
    /// </summary>
    public static string? ValidateNotify(string? value)
    {
        const string Error = "Invalid NOTIFY value, expected NEVER or a list of SUCCESS, FAILURE and DELAY";
        if (value is null)
        {
            return Error;
        }

        if (string.Equals(value, "NEVER", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string[] keywords = value.Split(',');
        bool valid = keywords.All(k => NotifyKeywords.Contains(k, StringComparer.OrdinalIgnoreCase))
            && keywords.Distinct(StringComparer.OrdinalIgnoreCase).Count() == keywords.Length;
        return valid ? null : Error;
    }

    /// <summary>Checks ORCPT=addr-type;xtext (RFC 3461 section 4.2), such as rfc822;alice@example.com.</summary>
    public static string? ValidateOriginalRecipient(string? value)
    {
        const string Error = "Invalid ORCPT value, expected address-type;xtext such as rfc822;user@example.com";
        if (value is null || value.Length > MaxOriginalRecipientLength)
        {
            return Error;
        }

        int separator = value.IndexOf(';');
        if (separator <= 0 || separator == value.Length - 1)
        {
            return Error;
        }

        // addr-type = atom; the registered types are rfc822 and, under RFC 6533, utf-8.
        bool validType = value[..separator].All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
        return validType && TryDecodeXtext(value[(separator + 1)..], out _) ? null : Error;
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
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '+')
            {
                if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                {
                    return false;
                }

                c = (char)Convert.ToByte(text.Substring(i + 1, 2), 16);
                i += 2;
            }
            else if (c == '=')
            {
                return false;
            }

            if (char.IsControl(c))
            {
                return false;
            }

            result.Append(c);
        }

        decoded = result.ToString();
        return decoded.Length > 0;
    }
}

using System.Text;
using Actors.Mta.Protocol.Addresses;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>
/// Builds the MAIL and RCPT command lines of an LMTP transaction, leaving out MAIL parameters whose extension the
/// server did not advertise in its LHLO reply.
/// </summary>
internal static class LmtpCommandBuilder
{
    /// <summary>Returns "MAIL FROM:&lt;path&gt;" with the parameters the server supports, without CRLF.</summary>
    public static string BuildMailFrom(
        Mailbox? reversePath,
        IReadOnlyList<KeyValuePair<string, string?>> parameters,
        IReadOnlySet<string> extensions)
    {
        var command = new StringBuilder("MAIL FROM:").Append(FormatPath(reversePath));
        foreach (KeyValuePair<string, string?> parameter in FilterMailParameters(parameters, extensions))
        {
            command.Append(' ').Append(parameter.Key);
            if (parameter.Value is not null)
            {
                command.Append('=').Append(parameter.Value);
            }
        }

        return command.ToString();
    }

    /// <summary>Returns "RCPT TO:&lt;path&gt;" without CRLF and without parameters.</summary>
    public static string BuildRcptTo(Mailbox recipient) => "RCPT TO:" + FormatPath(recipient);

    /// <summary>
    /// Returns "RCPT TO:&lt;path&gt;" with the parameters the server supports, without CRLF: NOTIFY and ORCPT need
    /// DSN, and any other keyword an extension of the same name.
    /// </summary>
    public static string BuildRcptTo(
        Mailbox recipient,
        IReadOnlyList<KeyValuePair<string, string?>> parameters,
        IReadOnlySet<string> extensions)
    {
        var command = new StringBuilder("RCPT TO:").Append(FormatPath(recipient));
        foreach (KeyValuePair<string, string?> parameter in parameters)
        {
            ValidateParameter(parameter);
            string keyword = parameter.Key.ToUpperInvariant();
            string extension = keyword is "NOTIFY" or "ORCPT" ? "DSN" : keyword;
            if (!extensions.Contains(extension))
            {
                continue;
            }

            command.Append(' ').Append(parameter.Key);
            if (parameter.Value is not null)
            {
                command.Append('=').Append(parameter.Value);
            }
        }

        return command.ToString();
    }

    /// <summary>
    /// Returns the MAIL parameters whose extension the server advertised: SMTPUTF8 needs SMTPUTF8, BODY needs
    /// 8BITMIME, SIZE needs SIZE, RET and ENVID need DSN, and any other keyword needs an extension of the same name.
    /// Throws <see cref="ArgumentException"/> for a keyword or value that is not valid ESMTP syntax.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> FilterMailParameters(
        IReadOnlyList<KeyValuePair<string, string?>> parameters,
        IReadOnlySet<string> extensions)
    {
        foreach (KeyValuePair<string, string?> parameter in parameters)
        {
            ValidateParameter(parameter);
            string? extension = RequiredExtension(parameter);
            if (extension is not null && extensions.Contains(extension))
            {
                yield return parameter;
            }
        }
    }

    /// <summary>Returns the extension a parameter needs, or null when it is never sent.</summary>
    private static string? RequiredExtension(KeyValuePair<string, string?> parameter)
    {
        string keyword = parameter.Key.ToUpperInvariant();
        switch (keyword)
        {
            case "BODY" when string.Equals(parameter.Value, "BINARYMIME", StringComparison.OrdinalIgnoreCase):
                // RFC 3030 section 3: BODY=BINARYMIME may only be used with BDAT, and this client sends DATA.
                return null;
            case "BODY":
                return "8BITMIME";
            case "RET" or "ENVID":
                return "DSN";
            default:
                return keyword;
        }
    }

    /// <summary>esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), esmtp-value = 1*(%d33-60 / %d62-126), or UTF-8.</summary>
    private static void ValidateParameter(KeyValuePair<string, string?> parameter)
    {
        string keyword = parameter.Key;
        bool validKeyword = keyword.Length > 0
            && char.IsAsciiLetterOrDigit(keyword[0])
            && keyword.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
        if (!validKeyword)
        {
            throw new ArgumentException($"Invalid ESMTP parameter keyword \"{keyword}\"", nameof(parameter));
        }

        string? value = parameter.Value;
        if (value is not null && (value.Length == 0 || value.Any(c => c is <= ' ' or '=' or '\x7F' || char.IsControl(c))))
        {
            throw new ArgumentException($"Invalid value for ESMTP parameter {keyword}", nameof(parameter));
        }
    }

    /// <summary>
    /// Formats a path for MAIL or RCPT: "&lt;&gt;" for null, "&lt;Postmaster&gt;" for a mailbox without domain.
    /// Throws <see cref="ArgumentException"/> for a control character, which could end the command line early.
    /// </summary>
    private static string FormatPath(Mailbox? mailbox)
    {
        if (mailbox is null)
        {
            return "<>";
        }

        string address = mailbox.Domain.Length == 0 ? mailbox.LocalPart : mailbox.Address;
        if (address.Any(char.IsControl))
        {
            throw new ArgumentException($"Mailbox contains a control character: {mailbox}", nameof(mailbox));
        }

        return "<" + address + ">";
    }
}

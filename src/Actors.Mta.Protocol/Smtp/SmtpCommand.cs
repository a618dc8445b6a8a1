using System.Text;
using System.Text.Unicode;

namespace Actors.Mta.Protocol.Smtp;

/// <summary>The SMTP verbs the server recognises. <see cref="Unknown"/> covers every other word.</summary>
public enum SmtpVerb
{
    Unknown,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Bdat,
    Auth,
}

/// <summary>One command line split into its verb and the rest of the line.</summary>
/// <param name="Verb">The recognised verb.</param>
/// <param name="Argument">Everything after the verb and the first space, or empty.</param>
/// <param name="IsValidUtf8">False when the line is not valid UTF-8, which no command may contain.</param>
public readonly record struct SmtpCommand(SmtpVerb Verb, string Argument, bool IsValidUtf8 = true);

/// <summary>Splits command lines into verb and argument (RFC 5321 section 4.1.1: verbs are case-insensitive).</summary>
public static class SmtpCommandParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly (string Word, SmtpVerb Verb)[] Verbs =
    [
        ("HELO", SmtpVerb.Helo), ("EHLO", SmtpVerb.Ehlo), ("MAIL", SmtpVerb.Mail), ("RCPT", SmtpVerb.Rcpt),
        ("DATA", SmtpVerb.Data), ("RSET", SmtpVerb.Rset), ("NOOP", SmtpVerb.Noop), ("QUIT", SmtpVerb.Quit),
        ("VRFY", SmtpVerb.Vrfy), ("EXPN", SmtpVerb.Expn), ("HELP", SmtpVerb.Help), ("STARTTLS", SmtpVerb.StartTls),
        ("BDAT", SmtpVerb.Bdat), ("AUTH", SmtpVerb.Auth),
    ];

    /// <summary>Parses one command line, given without its CRLF.</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line)
    {
        int space = line.IndexOf((byte)' ');
        ReadOnlySpan<byte> word = space < 0 ? line : line[..space];
        ReadOnlySpan<byte> rest = space < 0 ? [] : line[(space + 1)..];
        SmtpVerb verb = MatchVerb(word);

        // Validate the whole line, verb included. Splitting at an ASCII space cannot cut a UTF-8 sequence,
        // so the argument of a valid line is valid too and the strict decoder below does not throw.
        if (!Utf8.IsValid(line))
        {
            return new SmtpCommand(verb, "", IsValidUtf8: false);
        }

        return new SmtpCommand(verb, StrictUtf8.GetString(rest));
    }

    private static SmtpVerb MatchVerb(ReadOnlySpan<byte> word)
    {
        foreach (var (text, verb) in Verbs)
        {
            if (Ascii.EqualsIgnoreCase(word, text))
            {
                return verb;
            }
        }

        return SmtpVerb.Unknown;
    }
}

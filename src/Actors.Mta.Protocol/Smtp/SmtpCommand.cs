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

/// <summary>
/// One command line split into its verb and the rest of the line. The argument is a slice of the line
/// it was parsed from, so the command is only valid while that buffer is.
/// </summary>
public readonly ref struct SmtpCommand
{
    public SmtpCommand(SmtpVerb verb, ReadOnlySpan<byte> argument, bool isValidUtf8 = true)
    {
        Verb = verb;
        Argument = argument;
        IsValidUtf8 = isValidUtf8;
    }

    /// <summary>The recognised verb.</summary>
    public SmtpVerb Verb { get; }

    /// <summary>
    /// The UTF-8 bytes after the verb and the first space, or empty. Always empty when
    /// <see cref="IsValidUtf8"/> is false.
    /// </summary>
    public ReadOnlySpan<byte> Argument { get; }

    /// <summary>False when the line is not valid UTF-8, which no command may contain.</summary>
    public bool IsValidUtf8 { get; }

    /// <summary>
    /// Decodes <see cref="Argument"/> into <paramref name="destination"/>, which needs at least as many chars as
    /// the argument has bytes, and returns the decoded text.
    /// </summary>
    public ReadOnlySpan<char> DecodeArgument(Span<char> destination)
    {
        // The parser validated the whole line, so the decoder meets no invalid sequence.
        int length = Encoding.UTF8.GetChars(Argument, destination);
        return destination[..length];
    }
}

/// <summary>Splits command lines into verb and argument (RFC 5321 section 4.1.1: verbs are case-insensitive).</summary>
public static class SmtpCommandParser
{
    private static readonly (string Word, SmtpVerb Verb)[] Verbs =
    [
        ("HELO", SmtpVerb.Helo), ("EHLO", SmtpVerb.Ehlo), ("MAIL", SmtpVerb.Mail), ("RCPT", SmtpVerb.Rcpt),
        ("DATA", SmtpVerb.Data), ("RSET", SmtpVerb.Rset), ("NOOP", SmtpVerb.Noop), ("QUIT", SmtpVerb.Quit),
        ("VRFY", SmtpVerb.Vrfy), ("EXPN", SmtpVerb.Expn), ("HELP", SmtpVerb.Help), ("STARTTLS", SmtpVerb.StartTls),
        ("BDAT", SmtpVerb.Bdat), ("AUTH", SmtpVerb.Auth),
    ];

    /// <summary>Parses one command line, given without its CRLF. Allocates nothing.</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line)
    {
        int space = line.IndexOf((byte)' ');
        ReadOnlySpan<byte> word = space < 0 ? line : line[..space];
        ReadOnlySpan<byte> rest = space < 0 ? [] : line[(space + 1)..];
        SmtpVerb verb = MatchVerb(word);

        // Validate the whole line, verb included. Splitting at an ASCII space cannot cut a UTF-8 sequence,
        // so the argument of a valid line is valid too.
        if (!Utf8.IsValid(line))
        {
            return new SmtpCommand(verb, [], isValidUtf8: false);
        }

        return new SmtpCommand(verb, rest);
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

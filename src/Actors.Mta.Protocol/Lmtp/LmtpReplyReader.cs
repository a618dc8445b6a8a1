using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>
/// Reads SMTP-style replies (RFC 5321 section 4.2, used unchanged by LMTP) from a pipe, with bounded line length
/// and line count so a misbehaving server cannot make the client buffer without limit.
/// </summary>
internal sealed class LmtpReplyReader(PipeReader input)
{
    /// <summary>Maximum length of one reply line, without its CRLF.</summary>
    public const int MaxLineOctets = 8192;

    /// <summary>Maximum number of lines in one multiline reply.</summary>
    public const int MaxLines = 100;

    /// <summary>
    /// Reads one complete reply. Throws <see cref="LmtpProtocolException"/> on a malformed or oversized reply or when
    /// the connection closes before the reply is complete, and <see cref="OperationCanceledException"/> on cancellation.
    /// </summary>
    public async Task<SmtpReply> ReadAsync(CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        int code = 0;
        string? enhancedCode = null;
        while (true)
        {
            string? line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                throw new LmtpProtocolException(lines.Count == 0
                    ? "LMTP server closed the connection before replying"
                    : "LMTP server closed the connection in the middle of a reply");
            }

            ParsedLine parsed = ParseLine(line);
            if (lines.Count == 0)
            {
                code = parsed.Code;
                enhancedCode = FindEnhancedCode(parsed.Text);
            }
            else if (parsed.Code != code)
            {
                throw new LmtpProtocolException($"LMTP reply code changed from {code} to {parsed.Code} within one reply");
            }

            if (lines.Count == MaxLines)
            {
                throw new LmtpProtocolException($"LMTP reply has more than {MaxLines} lines");
            }

            lines.Add(StripEnhancedCode(parsed.Text, enhancedCode));
            if (parsed.IsLast)
            {
                return new SmtpReply(code, enhancedCode, lines);
            }
        }
    }

    /// <summary>Reads one line without its line ending, or returns null when the input ended before any byte of it.</summary>
    private async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("Reading the LMTP reply was canceled");
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition? lineFeed = buffer.PositionOf((byte)'\n');
            if (lineFeed is not null)
            {
                string? text = DecodeLine(buffer.Slice(0, lineFeed.Value));
                input.AdvanceTo(buffer.GetPosition(1, lineFeed.Value));
                return text ?? throw new LmtpProtocolException($"LMTP reply line longer than {MaxLineOctets} octets");
            }

            // One more octet than the limit leaves room for the CR before the LF.
            if (buffer.Length > MaxLineOctets + 1)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw new LmtpProtocolException($"LMTP reply line longer than {MaxLineOctets} octets");
            }

            if (result.IsCompleted)
            {
                bool empty = buffer.IsEmpty;
                input.AdvanceTo(buffer.Start, buffer.End);
                if (empty)
                {
                    return null;
                }

                throw new LmtpProtocolException("LMTP server closed the connection in the middle of a reply line");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Decodes a line without its LF, or returns null when it is longer than <see cref="MaxLineOctets"/>.</summary>
    private static string? DecodeLine(ReadOnlySequence<byte> line)
    {
        // RFC 5321 replies end in CRLF. A bare LF is accepted too, because being strict here gains nothing.
        if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        return line.Length > MaxLineOctets ? null : Encoding.UTF8.GetString(line);
    }

    private readonly record struct ParsedLine(int Code, bool IsLast, string Text);

    /// <summary>Reply-line = Reply-code ( "-" / SP / nothing ) [ textstring ], with a code of 2yz to 5yz.</summary>
    private static ParsedLine ParseLine(string line)
    {
        bool validCode = line.Length >= 3
            && line[0] is >= '2' and <= '5'
            && char.IsAsciiDigit(line[1])
            && char.IsAsciiDigit(line[2]);
        if (!validCode || (line.Length > 3 && line[3] is not (' ' or '-')))
        {
            throw new LmtpProtocolException($"Invalid LMTP reply line: \"{Shorten(line)}\"");
        }

        int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        bool isLast = line.Length == 3 || line[3] == ' ';
        string text = line.Length > 4 ? line[4..] : "";
        return new ParsedLine(code, isLast, text);
    }

    /// <summary>
    /// Returns the enhanced status code (RFC 3463: class "." subject "." detail, with class 2, 4 or 5 and one to three
    /// digits each for subject and detail) that starts <paramref name="text"/>, or null when it does not start with one.
    /// </summary>
    internal static string? FindEnhancedCode(string text)
    {
        if (text.Length < 5 || text[0] is not ('2' or '4' or '5') || text[1] != '.')
        {
            return null;
        }

        int subjectEnd = CountDigits(text, 2);
        if (subjectEnd is < 1 or > 3 || 2 + subjectEnd >= text.Length || text[2 + subjectEnd] != '.')
        {
            return null;
        }

        int detailStart = 2 + subjectEnd + 1;
        int detailLength = CountDigits(text, detailStart);
        int end = detailStart + detailLength;
        if (detailLength is < 1 or > 3 || (end < text.Length && text[end] != ' '))
        {
            return null;
        }

        return text[..end];
    }

    private static int CountDigits(string text, int start)
    {
        int index = start;
        while (index < text.Length && char.IsAsciiDigit(text[index]))
        {
            index++;
        }

        return index - start;
    }

    /// <summary>Removes the enhanced status code and the space after it, which RFC 2034 repeats on every line.</summary>
    private static string StripEnhancedCode(string text, string? enhancedCode)
    {
        if (enhancedCode is null || !text.StartsWith(enhancedCode, StringComparison.Ordinal))
        {
            return text;
        }

        if (text.Length == enhancedCode.Length)
        {
            return "";
        }

        return text[enhancedCode.Length] == ' ' ? text[(enhancedCode.Length + 1)..] : text;
    }

    private static string Shorten(string line)
    {
        const int maxShown = 80;
        string truncated = line.Length > maxShown ? line[..maxShown] + "..." : line;
        var escaped = new StringBuilder(truncated.Length);
        foreach (char c in truncated)
        {
            escaped.Append(char.IsControl(c) ? $"\\x{(int)c:X2}" : c.ToString());
        }

        return escaped.ToString();
    }
}

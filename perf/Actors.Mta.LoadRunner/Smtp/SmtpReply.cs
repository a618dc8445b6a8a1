namespace Actors.Mta.LoadRunner.Smtp;

/// <summary>
/// An SMTP reply: its three-digit code and, when the caller asked for it or the code is 4xx or 5xx, the text of
/// its lines without the code, joined by '\n'. Positive replies are kept without text to spare the allocation.
/// </summary>
public readonly record struct SmtpReply(int Code, string? Text)
{
    public bool IsPositiveCompletion => Code is >= 200 and < 300;

    public bool IsPositiveIntermediate => Code is >= 300 and < 400;

    /// <summary>Returns whether a line of the text is <paramref name="keyword"/> or starts with it and a space (RFC 5321 section 4.1.1.1).</summary>
    public bool HasKeyword(string keyword)
    {
        if (Text is null)
        {
            return false;
        }

        foreach (var line in Text.Split('\n'))
        {
            if (line.Equals(keyword, StringComparison.OrdinalIgnoreCase) ||
                line.StartsWith(keyword + " ", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => Text is null ? Code.ToString() : $"{Code} {Text.Split('\n')[0]}";
}

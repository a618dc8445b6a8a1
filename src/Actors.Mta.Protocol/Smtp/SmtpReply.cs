namespace Actors.Mta.Protocol.Smtp;

/// <summary>
/// One SMTP or LMTP reply: a three-digit code, an optional enhanced status code (RFC 3463) and its text lines.
/// </summary>
public sealed record SmtpReply(int Code, string? EnhancedCode, IReadOnlyList<string> Lines)
{
    public SmtpReply(int code, string? enhancedCode, string text) : this(code, enhancedCode, [text]) { }

    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransientFailure => Code is >= 400 and < 500;
    public bool IsPermanentFailure => Code >= 500;

    /// <summary>The reply as one line for logs: "550 5.1.1 User unknown".</summary>
    public override string ToString() =>
        EnhancedCode is null ? $"{Code} {string.Join(' ', Lines)}" : $"{Code} {EnhancedCode} {string.Join(' ', Lines)}";
}

using MailKit.Net.Smtp;
using MimeKit;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// MailKit's SmtpClient without its re-encoding step. SmtpClient.Prepare normally changes the transfer encoding
/// of parts that do not fit the server's extensions (MimeKit 4.18 also base64-encodes 7bit application/* parts),
/// which would make a byte-for-byte comparison with the corpus file test MimeKit instead of the server.
/// </summary>
public sealed class VerbatimSmtpClient : SmtpClient
{
    /// <summary>The constraint MailKit derived from the EHLO reply for the last message: EightBit when 8BITMIME was offered.</summary>
    public EncodingConstraint? LastConstraint { get; private set; }

    protected override void Prepare(FormatOptions options, MimeMessage message, EncodingConstraint constraint, int maxLineLength)
    {
        LastConstraint = constraint;
    }
}

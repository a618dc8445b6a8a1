namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>The DATA transparency procedure of RFC 5321 section 4.5.2.</summary>
public static class DotStuffing
{
    /// <summary>
    /// Returns the bytes to send after a 354 reply: every line that starts with "." gets another ".", a CRLF is
    /// added when the message does not end with one, and the terminating ".CRLF" follows.
    /// </summary>
    public static byte[] Stuff(byte[] message)
    {
        using var wire = new MemoryStream(message.Length + 64);
        var atLineStart = true;
        foreach (var b in message)
        {
            if (atLineStart && b == (byte)'.')
            {
                wire.WriteByte((byte)'.');
            }

            wire.WriteByte(b);
            atLineStart = b == (byte)'\n';
        }

        if (message.Length > 0 && !EndsWithCrlf(message))
        {
            wire.Write("\r\n"u8);
        }

        wire.Write(".\r\n"u8);
        return wire.ToArray();
    }

    private static bool EndsWithCrlf(byte[] message) =>
        message.Length >= 2 && message[^2] == (byte)'\r' && message[^1] == (byte)'\n';
}

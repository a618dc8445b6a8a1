using System.Buffers;

namespace Actors.Mta.Protocol.Lmtp;

/// <summary>
/// Encodes message content for DATA (RFC 5321 section 4.5.2) one chunk at a time: doubles a "." at the start of a
/// line, makes the content end in CRLF and appends the ".\r\n" terminator. State carries across chunks, so a line
/// start that falls on a chunk boundary is handled like any other.
/// </summary>
/// <remarks>
/// A line starts after every LF, including a bare LF without CR, because some servers end a line at a bare LF and a
/// "." after it left alone could end the data early. Bare CR and LF are otherwise written unchanged: the SMTP side
/// is expected to have normalised line endings to CRLF before the message reaches this client.
/// </remarks>
internal sealed class DotStuffer
{
    private static ReadOnlySpan<byte> Dot => "."u8;

    private bool atLineStart = true;
    private bool hasContent;
    private byte lastByte;
    private byte byteBeforeLast;

    /// <summary>Writes <paramref name="chunk"/> to <paramref name="output"/>, dot-stuffed.</summary>
    public void Write(ReadOnlySpan<byte> chunk, IBufferWriter<byte> output)
    {
        if (chunk.IsEmpty)
        {
            return;
        }

        if (atLineStart && chunk[0] == (byte)'.')
        {
            output.Write(Dot);
        }

        int segmentStart = 0;
        int searchStart = 0;
        while (searchStart < chunk.Length)
        {
            int lineFeed = chunk[searchStart..].IndexOf((byte)'\n');
            if (lineFeed < 0)
            {
                break;
            }

            int nextLineStart = searchStart + lineFeed + 1;
            if (nextLineStart < chunk.Length && chunk[nextLineStart] == (byte)'.')
            {
                output.Write(chunk[segmentStart..nextLineStart]);
                output.Write(Dot);
                segmentStart = nextLineStart;
            }

            searchStart = nextLineStart;
        }

        output.Write(chunk[segmentStart..]);

        byteBeforeLast = chunk.Length >= 2 ? chunk[^2] : lastByte;
        lastByte = chunk[^1];
        atLineStart = lastByte == (byte)'\n';
        hasContent = true;
    }

    /// <summary>Ends the content with CRLF unless it already does, then writes the ".\r\n" terminator.</summary>
    public void Complete(IBufferWriter<byte> output)
    {
        bool endsWithCrlf = byteBeforeLast == (byte)'\r' && lastByte == (byte)'\n';
        if (hasContent && !endsWithCrlf)
        {
            // A trailing CR only needs its LF. Anything else, a trailing bare LF included, gets a full CRLF.
            output.Write(lastByte == (byte)'\r' ? "\n"u8 : "\r\n"u8);
        }

        output.Write(".\r\n"u8);
    }
}

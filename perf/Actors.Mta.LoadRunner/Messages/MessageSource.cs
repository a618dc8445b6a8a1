using System.Globalization;
using System.Text;

namespace Actors.Mta.LoadRunner.Messages;

/// <summary>
/// The messages a run sends, ready for the wire: CRLF line endings, dot-stuffed (RFC 5321 section 4.5.2) and
/// followed by the CRLF.CRLF that ends the data.
/// </summary>
public abstract class MessageSource
{
    /// <summary>Size of the largest message as the server counts it: before dot-stuffing, without the final dot line.</summary>
    public abstract long MaxMessageSize { get; }

    /// <summary>Creates the message buffer of one session; a session uses its buffer from one task at a time.</summary>
    public abstract SessionMessages CreateSessionMessages();
}

/// <summary>A session's view of a <see cref="MessageSource"/>.</summary>
public abstract class SessionMessages
{
    /// <summary>Returns the wire bytes of message number <paramref name="sequence"/> of the run.</summary>
    public abstract ReadOnlyMemory<byte> Get(long sequence);
}

/// <summary>
/// Generated messages of exactly <see cref="Size"/> bytes: a few header fields and a body of 76-character
/// lines of letters. Each session patches the run-wide message number into its own copy of the Message-ID,
/// so no two messages of a run are the same and no message is built per send.
/// </summary>
public sealed class GeneratedMessageSource : MessageSource
{
    private const int BodyLineLength = 76;
    private const int SequenceDigits = 16;

    private readonly byte[] template;
    private readonly int sequenceOffset;

    public GeneratedMessageSource(int size, string sender, string recipient, string runId)
    {
        var header = new StringBuilder()
            .Append("From: <").Append(sender).Append(">\r\n")
            .Append("To: <").Append(recipient).Append(">\r\n")
            .Append("Subject: Load runner message\r\n")
            .Append("Date: ").Append(DateTimeOffset.UtcNow.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("Message-ID: <");
        sequenceOffset = Encoding.ASCII.GetByteCount(header.ToString());
        header.Append(new string('0', SequenceDigits)).Append('.').Append(runId).Append("@loadrunner.test>\r\n")
            .Append("MIME-Version: 1.0\r\n")
            .Append("Content-Type: text/plain; charset=us-ascii\r\n")
            .Append("\r\n");
        var headerBytes = Encoding.ASCII.GetBytes(header.ToString());

        // The body needs at least one CRLF; smaller sizes cannot hold the header fields above.
        var minimumSize = headerBytes.Length + 2;
        if (size < minimumSize)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"The message size must be at least {minimumSize} bytes, the size of the generated header fields.");
        }

        Size = size;
        template = new byte[size + 3];
        headerBytes.CopyTo(template, 0);
        FillBody(template.AsSpan(headerBytes.Length, size - headerBytes.Length));
        ".\r\n"u8.CopyTo(template.AsSpan(size));
    }

    public int Size { get; }

    public override long MaxMessageSize => Size;

    public override SessionMessages CreateSessionMessages() => new Copy((byte[])template.Clone(), sequenceOffset);

    /// <summary>Fills <paramref name="body"/> with lines of letters, each ending in CRLF; no line starts with a dot.</summary>
    private static void FillBody(Span<byte> body)
    {
        var random = new Random(5321);
        var position = 0;
        while (position < body.Length)
        {
            var remaining = body.Length - position;

            // A remainder too short to hold a letter and a CRLF of its own is folded into this line.
            var lineLength = remaining - (BodyLineLength + 2) <= 2 ? remaining - 2 : BodyLineLength;
            for (var i = 0; i < lineLength; i++)
            {
                body[position + i] = (byte)('a' + random.Next(26));
            }

            body[position + lineLength] = (byte)'\r';
            body[position + lineLength + 1] = (byte)'\n';
            position += lineLength + 2;
        }
    }

    private sealed class Copy(byte[] message, int sequenceOffset) : SessionMessages
    {
        public override ReadOnlyMemory<byte> Get(long sequence)
        {
            var digits = message.AsSpan(sequenceOffset, SequenceDigits);
            var value = sequence;
            for (var i = SequenceDigits - 1; i >= 0; i--)
            {
                digits[i] = (byte)('0' + (int)(value % 10));
                value /= 10;
            }

            return message;
        }
    }
}

/// <summary>
/// Messages read from the files of a folder, sent in turn. Line endings are normalised to CRLF (a bare LF or CR
/// becomes CRLF), a last line without an ending gets one, and lines starting with a dot are dot-stuffed.
/// </summary>
public sealed class CorpusMessageSource : MessageSource
{
    private readonly IReadOnlyList<byte[]> messages;

    public CorpusMessageSource(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The corpus folder '{directory}' does not exist.");
        }

        var files = Directory.GetFiles(directory).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new ArgumentException($"The corpus folder '{directory}' contains no files.", nameof(directory));
        }

        var encoded = new List<byte[]>(files.Count);
        long maxSize = 0;
        foreach (var file in files)
        {
            var (wire, size) = ToWireFormat(File.ReadAllBytes(file));
            encoded.Add(wire);
            maxSize = Math.Max(maxSize, size);
        }

        messages = encoded;
        MaxMessageSize = maxSize;
        FolderPath = directory;
    }

    public string FolderPath { get; }

    public int Count => messages.Count;

    public override long MaxMessageSize { get; }

    public override SessionMessages CreateSessionMessages() => new Shared(messages);

    /// <summary>
    /// Converts a stored message to its DATA bytes and returns them with the message size (CRLF line endings,
    /// before dot-stuffing).
    /// </summary>
    public static (byte[] Wire, long Size) ToWireFormat(ReadOnlySpan<byte> content)
    {
        var output = new MemoryStream(content.Length + content.Length / 32 + 8);
        long size = 0;
        var atLineStart = true;
        for (var i = 0; i < content.Length; i++)
        {
            var b = content[i];
            if (b is (byte)'\r' or (byte)'\n')
            {
                // CRLF, a bare CR and a bare LF each end one line.
                if (b == (byte)'\r' && i + 1 < content.Length && content[i + 1] == (byte)'\n')
                {
                    i++;
                }

                output.Write("\r\n"u8);
                size += 2;
                atLineStart = true;
                continue;
            }

            if (atLineStart && b == (byte)'.')
            {
                output.WriteByte((byte)'.');
            }

            output.WriteByte(b);
            size++;
            atLineStart = false;
        }

        if (!atLineStart)
        {
            output.Write("\r\n"u8);
            size += 2;
        }

        output.Write(".\r\n"u8);
        return (output.ToArray(), size);
    }

    private sealed class Shared(IReadOnlyList<byte[]> messages) : SessionMessages
    {
        public override ReadOnlyMemory<byte> Get(long sequence) => messages[(int)(sequence % messages.Count)];
    }
}

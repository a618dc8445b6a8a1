using System.Text;
using MimeKit;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>One test message with CRLF line endings, as it is sent in the DATA command before dot-stuffing.</summary>
public sealed record CorpusMessage(string Name, byte[] Content)
{
    public override string ToString() => Name;
}

/// <summary>
/// Real-world shaped messages: the .eml files under Corpus/ plus a few generated here because they are large or
/// repetitive. Every message ends with CRLF, so an SMTP client sends it unchanged.
/// </summary>
public static class MessageCorpus
{
    private static readonly Lazy<IReadOnlyDictionary<string, CorpusMessage>> Messages = new(Load);

    public static IEnumerable<CorpusMessage> All => Messages.Value.Values.OrderBy(m => m.Name, StringComparer.Ordinal);

    /// <summary>Message names for xunit's MemberData, so each message is its own test case.</summary>
    public static IEnumerable<object[]> Names => All.Select(m => new object[] { m.Name });

    public static CorpusMessage Get(string name) => Messages.Value[name];

    private static IReadOnlyDictionary<string, CorpusMessage> Load()
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "Corpus");
        var files = Directory.GetFiles(directory, "*.eml")
            .Select(path => new CorpusMessage(Path.GetFileName(path), File.ReadAllBytes(path)));
        return files.Concat(Generate()).ToDictionary(m => m.Name);
    }

    private static IEnumerable<CorpusMessage> Generate()
    {
        yield return new("generated-large-attachment.eml", LargeAttachment());
        yield return new("generated-many-headers.eml", ManyHeaders());
        yield return new("generated-998-octet-lines.eml", MaximumLengthLines());
        yield return new("generated-many-dot-lines.eml", ManyDotLines());
        yield return new("generated-large-8bit-utf8.eml", LargeEightBitText());
        yield return new("generated-mimekit-bodybuilder.eml", BodyBuilderMessage());
    }

    private static byte[] LargeAttachment()
    {
        var message = NewMessage("Backup archive attached", "generated-large-attachment");
        var attachment = new MimePart("application", "octet-stream")
        {
            Content = new MimeContent(new MemoryStream(PseudoRandomBytes(3 * 1024 * 1024, seed: 42))),
            ContentDisposition = new ContentDisposition(ContentDisposition.Attachment) { FileName = "backup.tar.gz" },
            ContentTransferEncoding = ContentEncoding.Base64,
        };
        var body = new TextPart("plain") { Text = "The nightly backup (3 MiB) is attached.\r\n" };
        message.Body = new Multipart("mixed") { body, attachment };
        return Serialize(message);
    }

    private static byte[] ManyHeaders()
    {
        var text = new StringBuilder(Header("Many header fields", "generated-many-headers"));
        for (var i = 1; i <= 400; i++)
        {
            text.Append($"X-Trace-{i:D3}: hop {i} value=\"{new string((char)('a' + i % 26), i % 60)}\"\r\n");
        }

        text.Append("\r\nA message with 400 extension header fields.\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static byte[] MaximumLengthLines()
    {
        // RFC 5321 section 4.5.3.1.6: a line is at most 1000 octets including CRLF.
        var header = "X-Long-Field: ";
        var text = new StringBuilder(Header("Lines of exactly 998 octets", "generated-998-octet-lines"));
        text.Append(header).Append('h', 998 - header.Length).Append("\r\n");
        text.Append("\r\n");
        text.Append('a', 998).Append("\r\n");
        text.Append('.').Append('b', 997).Append("\r\n");
        text.Append(string.Concat(Enumerable.Repeat("0123456789", 99))).Append("abcdefgh\r\n");
        text.Append("short line\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static byte[] ManyDotLines()
    {
        var text = new StringBuilder(Header("Thousands of lines starting with dots", "generated-many-dot-lines"));
        text.Append("\r\n");
        for (var i = 0; i < 3000; i++)
        {
            text.Append('.', i % 5 + 1);
            if (i % 7 != 0)
            {
                text.Append(" line ").Append(i);
            }

            text.Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static byte[] LargeEightBitText()
    {
        var text = new StringBuilder(Header("Roughly one megabyte of UTF-8 text", "generated-large-8bit-utf8"));
        text.Append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
        var lines = new[]
        {
            "Ünïcödé täxt wïth äccents, ß and ø.",
            "中文字符和日本語のかな、한국어 문장.",
            "Кириллица и ελληνικά γράμματα.",
            "Emoji line: 📨📦🧪 and symbols € £ ¥ ©.",
        };
        for (var i = 0; Encoding.UTF8.GetByteCount(text.ToString()) < 1_000_000 && i < 40_000; i++)
        {
            text.Append(i).Append(": ").Append(lines[i % lines.Length]).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static byte[] BodyBuilderMessage()
    {
        var message = NewMessage("Report with inline chart", "generated-mimekit-bodybuilder");
        var builder = new BodyBuilder { TextBody = "The chart is inline in the HTML part.\r\n" };
        var chart = builder.LinkedResources.Add("chart.png", PseudoRandomBytes(20_000, seed: 7), new ContentType("image", "png"));
        chart.ContentId = "chart@example.net";
        builder.HtmlBody = "<html><body><h1>Report</h1><img src=\"cid:chart@example.net\"></body></html>\r\n";
        builder.Attachments.Add("data.csv", Encoding.ASCII.GetBytes("day,count\r\n1,10\r\n2,12\r\n"), new ContentType("text", "csv"));
        message.Body = builder.ToMessageBody();
        return Serialize(message);
    }

    private static MimeMessage NewMessage(string subject, string id)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Generator", "generator@example.net"));
        message.To.Add(new MailboxAddress("Alice", "alice@example.com"));
        message.Subject = subject;
        message.Date = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        message.MessageId = $"{id}@example.net";
        return message;
    }

    private static string Header(string subject, string id) =>
        "From: Generator <generator@example.net>\r\nTo: Alice <alice@example.com>\r\n" +
        $"Subject: {subject}\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{id}@example.net>\r\n";

    private static byte[] Serialize(MimeMessage message)
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var stream = new MemoryStream();
        message.WriteTo(options, stream);
        return stream.ToArray();
    }

    private static byte[] PseudoRandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}

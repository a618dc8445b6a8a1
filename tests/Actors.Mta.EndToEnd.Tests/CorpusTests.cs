using MimeKit;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// Checks the corpus itself: the delivery tests compare stored files with these bytes, which is only meaningful
/// when the messages are well formed and MailKit sends them unchanged.
/// </summary>
public sealed class CorpusTests
{
    [Fact]
    public void Corpus_HasAtLeastThirtyMessages()
    {
        Assert.True(MessageCorpus.All.Count() >= 30, $"Corpus has {MessageCorpus.All.Count()} messages.");
    }

    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public void CorpusMessage_UsesOnlyCrlfLineEndings(string name)
    {
        var content = MessageCorpus.Get(name).Content;
        var lineFeeds = content.Count(b => b == (byte)'\n');
        var carriageReturns = content.Count(b => b == (byte)'\r');
        var crlfs = 0;
        for (var i = 1; i < content.Length; i++)
        {
            if (content[i - 1] == (byte)'\r' && content[i] == (byte)'\n')
            {
                crlfs++;
            }
        }

        Assert.Equal(crlfs, lineFeeds);
        Assert.Equal(crlfs, carriageReturns);
        Assert.True(content.AsSpan().EndsWith("\r\n"u8), $"{name} does not end with CRLF.");
    }

    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public void CorpusMessage_LinesAtMost998Octets(string name)
    {
        var content = MessageCorpus.Get(name).Content;
        var lineStart = 0;
        for (var i = 0; i < content.Length; i++)
        {
            if (content[i] == (byte)'\n')
            {
                var length = i - 1 - lineStart;
                Assert.True(length <= 998, $"{name}: line at offset {lineStart} has {length} octets.");
                lineStart = i + 1;
            }
        }
    }

    /// <summary>
    /// The MailKit tests send each message through <see cref="Infrastructure.VerbatimSmtpClient"/>, which writes the
    /// parsed MimeMessage with CRLF and without re-encoding; this checks that the result equals the file.
    /// </summary>
    [Theory]
    [MemberData(nameof(MessageCorpus.Names), MemberType = typeof(MessageCorpus))]
    public void CorpusMessage_MimeKitWritesItUnchanged(string name)
    {
        var content = MessageCorpus.Get(name).Content;
        var message = MimeMessage.Load(new MemoryStream(content));

        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var written = new MemoryStream();
        message.WriteTo(options, written);

        var difference = Infrastructure.StoredMessage.DescribeDifference(written.ToArray(), content);
        Assert.True(difference is null, difference);
    }
}

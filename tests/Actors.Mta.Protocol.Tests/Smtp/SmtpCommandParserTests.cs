using System.Text;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Smtp;

public sealed class SmtpCommandParserTests
{
    public static TheoryData<string, SmtpVerb> Verbs => new()
    {
        { "HELO", SmtpVerb.Helo },
        { "EHLO", SmtpVerb.Ehlo },
        { "MAIL", SmtpVerb.Mail },
        { "RCPT", SmtpVerb.Rcpt },
        { "DATA", SmtpVerb.Data },
        { "RSET", SmtpVerb.Rset },
        { "NOOP", SmtpVerb.Noop },
        { "QUIT", SmtpVerb.Quit },
        { "VRFY", SmtpVerb.Vrfy },
        { "EXPN", SmtpVerb.Expn },
        { "HELP", SmtpVerb.Help },
        { "STARTTLS", SmtpVerb.StartTls },
        { "BDAT", SmtpVerb.Bdat },
        { "AUTH", SmtpVerb.Auth },
    };

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Parse_UpperCaseVerb_IsRecognised(string word, SmtpVerb expected)
    {
        var command = SmtpCommandParser.Parse(Ascii(word));

        Assert.Equal(expected, command.Verb);
        Assert.Equal("", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Parse_LowerCaseVerb_IsRecognised(string word, SmtpVerb expected)
    {
        var command = SmtpCommandParser.Parse(Ascii(word.ToLowerInvariant()));

        Assert.Equal(expected, command.Verb);
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Parse_MixedCaseVerb_IsRecognised(string word, SmtpVerb expected)
    {
        // Alternate the case letter by letter: "HeLo", "StArTtLs".
        var mixed = new StringBuilder();
        for (int i = 0; i < word.Length; i++)
        {
            mixed.Append(i % 2 == 0 ? char.ToUpperInvariant(word[i]) : char.ToLowerInvariant(word[i]));
        }

        var command = SmtpCommandParser.Parse(Ascii(mixed.ToString()));

        Assert.Equal(expected, command.Verb);
    }

    [Fact]
    public void Parse_Argument_StartsAfterFirstSpace()
    {
        var command = SmtpCommandParser.Parse(Ascii("MAIL FROM:<a@b> SIZE=100"));

        Assert.Equal(SmtpVerb.Mail, command.Verb);
        Assert.Equal("FROM:<a@b> SIZE=100", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    [Fact]
    public void Parse_ArgumentSpaces_AreKept()
    {
        var command = SmtpCommandParser.Parse(Ascii("HELO  client.example "));

        Assert.Equal(SmtpVerb.Helo, command.Verb);
        Assert.Equal(" client.example ", ArgumentText(command));
    }

    [Fact]
    public void Parse_TrailingSpaceOnly_GivesEmptyArgument()
    {
        var command = SmtpCommandParser.Parse(Ascii("DATA "));

        Assert.Equal(SmtpVerb.Data, command.Verb);
        Assert.Equal("", ArgumentText(command));
    }

    [Fact]
    public void Parse_NoArgument_GivesEmptyArgument()
    {
        var command = SmtpCommandParser.Parse(Ascii("QUIT"));

        Assert.Equal(SmtpVerb.Quit, command.Verb);
        Assert.Equal("", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    [Fact]
    public void Parse_EmptyLine_IsUnknown()
    {
        var command = SmtpCommandParser.Parse([]);

        Assert.Equal(SmtpVerb.Unknown, command.Verb);
        Assert.Equal("", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    [Fact]
    public void Parse_UnknownVerb_KeepsArgument()
    {
        var command = SmtpCommandParser.Parse(Ascii("XCLIENT NAME=spoofed"));

        Assert.Equal(SmtpVerb.Unknown, command.Verb);
        Assert.Equal("NAME=spoofed", ArgumentText(command));
    }

    [Theory]
    [InlineData("MAILX FROM:<a@b>")]
    [InlineData("MAI FROM:<a@b>")]
    [InlineData("MAIL:FROM:<a@b>")]
    [InlineData("STARTTLSX")]
    [InlineData("START")]
    [InlineData(" MAIL FROM:<a@b>")]
    [InlineData("MAIL\tFROM:<a@b>")]
    public void Parse_VerbPrefixOrVariant_IsUnknown(string line)
    {
        var command = SmtpCommandParser.Parse(Ascii(line));

        Assert.Equal(SmtpVerb.Unknown, command.Verb);
    }

    [Fact]
    public void Parse_Utf8Argument_IsDecoded()
    {
        var command = SmtpCommandParser.Parse(Encoding.UTF8.GetBytes("RCPT TO:<用户@例え.jp> NOTIFY=NEVER"));

        Assert.Equal(SmtpVerb.Rcpt, command.Verb);
        Assert.Equal("TO:<用户@例え.jp> NOTIFY=NEVER", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    [Fact]
    public void Parse_FourByteUtf8Argument_IsDecoded()
    {
        var command = SmtpCommandParser.Parse(Encoding.UTF8.GetBytes("MAIL FROM:<😀@example.com>"));

        Assert.Equal("FROM:<😀@example.com>", ArgumentText(command));
        Assert.True(command.IsValidUtf8);
    }

    public static TheoryData<byte[]> InvalidUtf8Arguments => new()
    {
        // A lone continuation byte.
        { [0x80] },
        // A byte that never occurs in UTF-8.
        { [0xFF] },
        // A Latin-1 "ü", a lead byte followed by an ASCII byte.
        { [(byte)'a', 0xFC, (byte)'b'] },
        // A truncated three-byte sequence at the end of the line.
        { [0xE4, 0xB8] },
        // The overlong two-byte encoding of '/'.
        { [0xC0, 0xAF] },
        // The overlong three-byte encoding of NUL.
        { [0xE0, 0x80, 0x80] },
        // A UTF-16 surrogate (U+D800) encoded as if it were a scalar value.
        { [0xED, 0xA0, 0x80] },
        // A code point above U+10FFFF.
        { [0xF4, 0x90, 0x80, 0x80] },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8Arguments))]
    public void Parse_InvalidUtf8Argument_IsFlagged(byte[] argument)
    {
        byte[] line = [.. Ascii("MAIL FROM:<"), .. argument, .. Ascii("@b>")];

        var command = SmtpCommandParser.Parse(line);

        Assert.False(command.IsValidUtf8);
        Assert.Equal(SmtpVerb.Mail, command.Verb);
        Assert.Equal("", ArgumentText(command));
    }

    [Fact]
    public void Parse_InvalidUtf8Verb_IsFlagged()
    {
        byte[] line = [.. Ascii("MA"), 0xFF, .. Ascii("L FROM:<a@b>")];

        var command = SmtpCommandParser.Parse(line);

        Assert.False(command.IsValidUtf8);
        Assert.Equal(SmtpVerb.Unknown, command.Verb);
    }

    [Theory]
    [InlineData("NOOP")]
    [InlineData("RSET")]
    [InlineData("DATA")]
    [InlineData("QUIT")]
    [InlineData("EHLO mx.example.org")]
    [InlineData("MAIL FROM:<user@example.com> SIZE=5120 BODY=8BITMIME")]
    [InlineData("RCPT TO:<用户@例え.jp> NOTIFY=NEVER")]
    public void Parse_CommandLine_AllocatesNothing(string text)
    {
        byte[] line = Encoding.UTF8.GetBytes(text);

        long allocated = Allocations.Measure(() =>
        {
            Span<char> buffer = stackalloc char[line.Length];
            SmtpCommandParser.Parse(line).DecodeArgument(buffer);
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void DecodeArgument_Utf8Argument_ReturnsText()
    {
        byte[] line = Encoding.UTF8.GetBytes("RCPT TO:<用户@例え.jp> NOTIFY=NEVER");
        var command = SmtpCommandParser.Parse(line);

        string decoded = command.DecodeArgument(new char[line.Length]).ToString();

        Assert.Equal("TO:<用户@例え.jp> NOTIFY=NEVER", decoded);
    }

    [Fact]
    public void DecodeArgument_NoArgument_ReturnsEmpty()
    {
        var command = SmtpCommandParser.Parse(Ascii("NOOP"));

        Assert.True(command.DecodeArgument([]).IsEmpty);
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static string ArgumentText(SmtpCommand command) => Encoding.UTF8.GetString(command.Argument);
}

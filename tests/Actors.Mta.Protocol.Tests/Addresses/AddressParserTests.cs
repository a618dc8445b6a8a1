using Actors.Mta.Protocol.Addresses;

namespace Actors.Mta.Protocol.Tests.Addresses;

public sealed class AddressParserTests
{
    private static readonly string Local64 = new('a', 64);
    private static readonly string Local65 = new('a', 65);
    private static readonly string Label63 = new('b', 63);
    private static readonly string Label64 = new('b', 64);

    // "<" + 64 + "@" + 189 + ">" is exactly 256 octets.
    private static readonly string Domain189 = string.Join('.', new string('c', 63), new string('d', 63), new string('e', 61));
    private static readonly string Domain190 = string.Join('.', new string('c', 63), new string('d', 63), new string('e', 62));

    /// <summary>Valid reverse-paths: input, allowUtf8, expected local part, expected domain.</summary>
    public static TheoryData<string, bool, string, string> ValidPaths => new()
    {
        { "<user@example.com>", false, "user", "example.com" },
        { "<User.Name+tag@Example.COM>", false, "User.Name+tag", "Example.COM" },
        { "<user%other@example.com>", false, "user%other", "example.com" },
        { "<\"user@other\"@example.com>", false, "\"user@other\"", "example.com" },
        { "<\"john doe\"@example.com>", false, "\"john doe\"", "example.com" },
        { "<\"a\\\"b\"@example.com>", false, "\"a\\\"b\"", "example.com" },
        { "<\"a\\\\b\"@example.com>", false, "\"a\\\\b\"", "example.com" },
        { "<\"\\ \"@example.com>", false, "\"\\ \"", "example.com" },
        { "<\"\"@example.com>", false, "\"\"", "example.com" },
        { "<\"a.b..c.\"@example.com>", false, "\"a.b..c.\"", "example.com" },
        { "<!#$%&'*+-/=?^_`{|}~@example.com>", false, "!#$%&'*+-/=?^_`{|}~", "example.com" },
        { "<user@localhost>", false, "user", "localhost" },
        { "<user@a-b--c.example>", false, "user", "a-b--c.example" },
        { "<user@123.example>", false, "user", "123.example" },
        { "<user@xn--bcher-kva.example>", false, "user", "xn--bcher-kva.example" },
        { "<user@[192.0.2.1]>", false, "user", "[192.0.2.1]" },
        { "<user@[0.0.0.0]>", false, "user", "[0.0.0.0]" },
        { "<user@[255.255.255.255]>", false, "user", "[255.255.255.255]" },
        { "<user@[IPv6:2001:db8::1]>", false, "user", "[IPv6:2001:db8::1]" },
        { "<user@[IPv6:2001:db8:0:0:0:0:0:1]>", false, "user", "[IPv6:2001:db8:0:0:0:0:0:1]" },
        { "<user@[IPv6:::1]>", false, "user", "[IPv6:::1]" },
        { "<user@[ipv6:1:2:3:4:5:6::]>", false, "user", "[ipv6:1:2:3:4:5:6::]" },
        { "<user@[IPv6:::ffff:192.0.2.1]>", false, "user", "[IPv6:::ffff:192.0.2.1]" },
        { "<user@[IPv6:1:2:3:4:5:6:192.0.2.1]>", false, "user", "[IPv6:1:2:3:4:5:6:192.0.2.1]" },
        { "<user@[IPv6:1::2:192.0.2.1]>", false, "user", "[IPv6:1::2:192.0.2.1]" },
        { "<@a.example:user@c.example>", false, "user", "c.example" },
        { "<@a.example,@b.example:user@c.example>", false, "user", "c.example" },
        { "<@a.example:user@[192.0.2.1]>", false, "user", "[192.0.2.1]" },
        { $"<{Local64}@example.com>", false, Local64, "example.com" },
        { $"<user@{Label63}.example>", false, "user", Label63 + ".example" },
        { $"<{Local64}@{Domain189}>", false, Local64, Domain189 },
        { "<用户@例え.jp>", true, "用户", "例え.jp" },
        { "<user@bücher.example>", true, "user", "bücher.example" },
        { "<user@BÜCHER.example>", true, "user", "BÜCHER.example" },
        { "<ü@xn--bcher-kva.example>", true, "ü", "xn--bcher-kva.example" },
        { "<\"ü x\"@example.com>", true, "\"ü x\"", "example.com" },
        { "<😀.smile@example.com>", true, "😀.smile", "example.com" },
        { "<user@ab\u0301c.example>", true, "user", "ab\u0301c.example" },
        { "<user@example.com>", true, "user", "example.com" },
        { "<@bücher.example:user@example.com>", true, "user", "example.com" },
        { $"<{string.Concat(Enumerable.Repeat("ü", 32))}@example.com>", true, string.Concat(Enumerable.Repeat("ü", 32)), "example.com" },
    };

    /// <summary>Invalid reverse-paths: input, allowUtf8, expected error.</summary>
    public static TheoryData<string, bool, string> InvalidPaths => new()
    {
        { "", false, "Missing address" },
        { "<", false, "Address must be enclosed in angle brackets" },
        { "user@example.com", false, "Address must be enclosed in angle brackets" },
        { "<user@example.com", false, "Address must be enclosed in angle brackets" },
        { "user@example.com>", false, "Address must be enclosed in angle brackets" },
        { " <user@example.com>", false, "Address must be enclosed in angle brackets" },
        { "<user@example.com> ", false, "Address must be enclosed in angle brackets" },
        { "< user@example.com>", false, "Invalid local part in address" },
        { "<user@example.com >", false, "Invalid domain in address" },
        { "<user@example.com (comment)>", false, "Invalid domain in address" },
        { "<user@example.com.>", false, "Invalid domain in address" },
        { "<user@example..com>", false, "Invalid domain in address" },
        { "<user@.example.com>", false, "Invalid domain in address" },
        { "<user@-example.com>", false, "Invalid domain in address" },
        { "<user@example-.com>", false, "Invalid domain in address" },
        { "<user@exa_mple.com>", false, "Invalid domain in address" },
        { "<user@exa mple.com>", false, "Invalid domain in address" },
        { "<user@@example.com>", false, "Invalid domain in address" },
        { "<user@>", false, "Invalid domain in address" },
        { "<user>", false, "Missing domain in address" },
        { "<Postmaster>", false, "Missing domain in address" },
        { "<@example.com>", false, "Missing local part in address" },
        { "<@a.example:@example.com>", false, "Missing local part in address" },
        { "<@a.example:>", false, "Missing mailbox in address" },
        { "<.user@example.com>", false, "Invalid local part in address" },
        { "<user.@example.com>", false, "Invalid local part in address" },
        { "<us..er@example.com>", false, "Invalid local part in address" },
        { "<us er@example.com>", false, "Invalid local part in address" },
        { "<us\"er@example.com>", false, "Invalid local part in address" },
        { "<\"unterminated@example.com>", false, "Invalid local part in address" },
        { "<\"a\"b@example.com>", false, "Invalid local part in address" },
        { "<\"a\\\"@example.com>", false, "Invalid local part in address" },
        { "<@:user@example.com>", false, "Invalid source route in address" },
        { "<@a..example:user@example.com>", false, "Invalid source route in address" },
        { "<@a.example;@b.example:user@c.example>", false, "Invalid source route in address" },
        { "<@a.example,b.example:user@c.example>", false, "Invalid source route in address" },
        { "<@[192.0.2.1]:user@c.example>", false, "Invalid source route in address" },
        { "<user@[192.0.2.256]>", false, "Invalid address literal in address" },
        { "<user@[192.0.2]>", false, "Invalid address literal in address" },
        { "<user@[192.0.2.1.5]>", false, "Invalid address literal in address" },
        { "<user@[0x1.0.0.1]>", false, "Invalid address literal in address" },
        { "<user@[1234.0.0.1]>", false, "Invalid address literal in address" },
        { "<user@[]>", false, "Invalid address literal in address" },
        { "<user@[192.0.2.1>", false, "Invalid address literal in address" },
        { "<user@[example.com]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:2001:db8::g]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:1:2:3:4:5:6:7::]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:1::2::3]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:1:::2]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:1:2:3:4:5:6:7]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:12345::1]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:fe80::1%eth0]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:::1.2.3.256]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:192.0.2.1]>", false, "Invalid address literal in address" },
        { "<user@[IPv6:]>", false, "Invalid address literal in address" },
        { "<user@[2001:db8::1]>", false, "IPv6 address literal must start with \"IPv6:\"" },
        { "<user@[x-tag:content]>", false, "General address literals are not supported" },
        { "<ü@example.com>", false, "Non-ASCII address requires SMTPUTF8" },
        { "<user@bücher.example>", false, "Non-ASCII address requires SMTPUTF8" },
        { "<\"ü\"@example.com>", false, "Non-ASCII address requires SMTPUTF8" },
        { "<@bücher.example:user@example.com>", false, "Non-ASCII address requires SMTPUTF8" },
        { "<user@☃.example>", true, "Invalid domain in address" },
        { "<user@-ü.example>", true, "Invalid domain in address" },
        { "<user@ü-.example>", true, "Invalid domain in address" },
        { "<user@ü_x.example>", true, "Invalid domain in address" },
        { "<user@\u0301ab.example>", true, "Invalid domain in address" },
        { "<user@ab\u00adc.example>", true, "Invalid domain in address" },
        { "<user@例え\u3002jp>", true, "Invalid domain in address" },
        { "<user@[IPv6:::ü]>", true, "Invalid address literal in address" },
        { "<\"a\\ü\"@example.com>", true, "Invalid local part in address" },
        { "<\"a\\\"@example.com>", true, "Invalid local part in address" },
        { $"<{Local65}@example.com>", false, "Local part longer than 64 octets" },
        { $"<\"{new string('q', 63)}\"@example.com>", false, "Local part longer than 64 octets" },
        { $"<{string.Concat(Enumerable.Repeat("ü", 33))}@example.com>", true, "Local part longer than 64 octets" },
        { $"<user@{Label64}.example>", false, "Domain label longer than 63 octets" },
        { $"<user@{string.Concat(Enumerable.Repeat("ü", 60))}.example>", true, "Domain label longer than 63 octets" },
        { $"<{Local64}@{Domain190}>", false, "Address longer than 256 octets" },
        { "<user\0@example.com>", false, "Address contains a control character" },
        { "<user@example.com\0>", false, "Address contains a control character" },
        { "<user\r\n@example.com>", false, "Address contains a control character" },
        { "<user\t@example.com>", false, "Address contains a control character" },
        { "<\"a\u0007b\"@example.com>", false, "Address contains a control character" },
        { "<user\u007f@example.com>", false, "Address contains a control character" },
        { "<user@\u0085example.com>", true, "Address contains a control character" },
    };

    [Theory]
    [MemberData(nameof(ValidPaths))]
    public void ReversePath_ValidCases(string text, bool allowUtf8, string localPart, string domain)
    {
        PathParseResult result = AddressParser.ParseReversePath(text, allowUtf8);

        Assert.True(result.Success, $"rejected with: {result.Error}");
        Assert.Null(result.Error);
        Assert.Equal(localPart, result.Mailbox?.LocalPart);
        Assert.Equal(domain, result.Mailbox?.Domain);
    }

    [Theory]
    [MemberData(nameof(ValidPaths))]
    public void ForwardPath_ValidCases(string text, bool allowUtf8, string localPart, string domain)
    {
        PathParseResult result = AddressParser.ParseForwardPath(text, allowUtf8);

        Assert.True(result.Success, $"rejected with: {result.Error}");
        Assert.Equal(localPart, result.Mailbox?.LocalPart);
        Assert.Equal(domain, result.Mailbox?.Domain);
    }

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public void ReversePath_InvalidCases(string text, bool allowUtf8, string error)
    {
        PathParseResult result = AddressParser.ParseReversePath(text, allowUtf8);

        Assert.False(result.Success);
        Assert.Null(result.Mailbox);
        Assert.Equal(error, result.Error);
    }

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public void ForwardPath_InvalidCases(string text, bool allowUtf8, string error)
    {
        // "<Postmaster>" is the one text that only the forward-path accepts.
        if (text == "<Postmaster>")
        {
            return;
        }

        PathParseResult result = AddressParser.ParseForwardPath(text, allowUtf8);

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
    }

    // Kept out of the theory table because xunit replaces unpaired surrogates when it serializes theory data.
    [Theory]
    [InlineData(0xD800)]
    [InlineData(0xDC00)]
    [InlineData(0xDBFF)]
    public void Parse_UnpairedSurrogateRejected(int surrogate)
    {
        string text = "<user" + (char)surrogate + "@example.com>";

        PathParseResult result = AddressParser.ParseReversePath(text, allowUtf8: true);

        Assert.Equal("Address is not valid UTF-8", result.Error);
    }

    [Fact]
    public void Parse_SurrogateAtEndRejected()
    {
        PathParseResult result = AddressParser.ParseForwardPath("<user@example.com\uD83D", allowUtf8: true);

        Assert.Equal("Address is not valid UTF-8", result.Error);
    }

    [Fact]
    public void ReversePath_NullPathAccepted()
    {
        PathParseResult result = AddressParser.ParseReversePath("<>", allowUtf8: false);

        Assert.True(result.Success);
        Assert.Null(result.Mailbox);
    }

    [Fact]
    public void ForwardPath_NullPathRejected()
    {
        PathParseResult result = AddressParser.ParseForwardPath("<>", allowUtf8: true);

        Assert.False(result.Success);
        Assert.Equal("Null path is not allowed as a recipient", result.Error);
    }

    [Theory]
    [InlineData("<Postmaster>")]
    [InlineData("<postmaster>")]
    [InlineData("<POSTMASTER>")]
    [InlineData("<PostMaster>")]
    public void ForwardPath_PostmasterWithoutDomain(string text)
    {
        PathParseResult result = AddressParser.ParseForwardPath(text, allowUtf8: false);

        Assert.True(result.Success);
        Assert.Equal(new Mailbox("Postmaster", ""), result.Mailbox);
    }

    [Fact]
    public void ForwardPath_PostmasterWithDomainKeepsCase()
    {
        PathParseResult result = AddressParser.ParseForwardPath("<postmaster@example.com>", allowUtf8: false);

        Assert.Equal(new Mailbox("postmaster", "example.com"), result.Mailbox);
    }

    [Fact]
    public void ReversePath_Utf8MailboxNeedsSmtpUtf8()
    {
        PathParseResult result = AddressParser.ParseReversePath("<用户@例え.jp>", allowUtf8: true);

        Assert.True(result.Mailbox?.NeedsSmtpUtf8);
    }

    [Fact]
    public void ReversePath_AddressLiteralFlagged()
    {
        PathParseResult result = AddressParser.ParseReversePath("<user@[192.0.2.1]>", allowUtf8: false);

        Assert.True(result.Mailbox?.IsAddressLiteral);
    }

    [Fact]
    public void Domain_LongerThan255Octets()
    {
        string domain = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)) + ".b";

        Assert.Equal("Domain longer than 255 octets", DomainGrammar.CheckDomain(domain, allowUtf8: false));
    }

    [Fact]
    public void Domain_Exactly255OctetsAccepted()
    {
        string domain = string.Join('.', Enumerable.Repeat(new string('a', 63), 4));

        Assert.Null(DomainGrammar.CheckDomain(domain, allowUtf8: false));
    }

    [Theory]
    [InlineData("<user@example.com>", "user", "example.com")]
    [InlineData("<\"john \\\"jd\\\" doe\"@example.com>", "\"john \\\"jd\\\" doe\"", "example.com")]
    [InlineData("<@a.example,@b.example:user@c.example>", "user", "c.example")]
    [InlineData("<user@[192.0.2.1]>", "user", "[192.0.2.1]")]
    public void Parse_AsciiPath_AllocatesOnlyMailbox(string text, string localPart, string domain)
    {
        long mailboxSize = Allocations.Measure(() => _ = new Mailbox(new string(localPart), new string(domain)));

        long reverse = Allocations.Measure(() => AddressParser.ParseReversePath(text, allowUtf8: false));
        long forward = Allocations.Measure(() => AddressParser.ParseForwardPath(text, allowUtf8: false));

        Assert.Equal(mailboxSize, reverse);
        Assert.Equal(mailboxSize, forward);
    }

    [Theory]
    [InlineData("<>")]
    [InlineData("<user@exa_mple.com>")]
    [InlineData("<a..b@example.com>")]
    public void ReversePath_NullOrInvalidPath_AllocatesNothing(string text)
    {
        long allocated = Allocations.Measure(() => AddressParser.ParseReversePath(text, allowUtf8: false));

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Parse_RandomInputNeverThrows()
    {
        // Random text over an alphabet of the characters that matter to the grammar, plus anything else.
        const string alphabet = "<>@.:,[]\"\\ -aZ09üé😀\0\r\n\t%IPv6:";
        var random = new Random(5321);
        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(0, 40);
            var chars = new char[length];
            for (int j = 0; j < length; j++)
            {
                chars[j] = random.Next(10) == 0 ? (char)random.Next(0, 0x10000) : alphabet[random.Next(alphabet.Length)];
            }

            string text = "<" + new string(chars) + (random.Next(4) == 0 ? "" : ">");
            PathParseResult reverse = AddressParser.ParseReversePath(text, allowUtf8: random.Next(2) == 0);
            PathParseResult forward = AddressParser.ParseForwardPath(text, allowUtf8: random.Next(2) == 0);

            Assert.True(reverse.Success || reverse.Error is not null, text);
            Assert.True(forward.Success || forward.Error is not null, text);
        }
    }
}

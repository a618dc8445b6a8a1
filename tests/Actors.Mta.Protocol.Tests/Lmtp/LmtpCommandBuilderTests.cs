using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Lmtp;

namespace Actors.Mta.Protocol.Tests.Lmtp;

public sealed class LmtpCommandBuilderTests
{
    private static readonly Mailbox Sender = new("sender", "example.com");

    [Theory]
    [InlineData("SMTPUTF8", null, "SMTPUTF8", true)]
    [InlineData("SMTPUTF8", null, "8BITMIME", false)]
    [InlineData("BODY", "8BITMIME", "8BITMIME", true)]
    [InlineData("BODY", "7BIT", "8BITMIME", true)]
    [InlineData("BODY", "8BITMIME", "SMTPUTF8", false)]
    [InlineData("BODY", "BINARYMIME", "BINARYMIME", false)]
    [InlineData("SIZE", "1000", "SIZE", true)]
    [InlineData("SIZE", "1000", "DSN", false)]
    [InlineData("RET", "HDRS", "DSN", true)]
    [InlineData("ENVID", "abc+2Bdef", "DSN", true)]
    [InlineData("RET", "FULL", "SIZE", false)]
    [InlineData("MT-PRIORITY", "3", "MT-PRIORITY", true)]
    [InlineData("XFOO", "1", "XBAR", false)]
    [InlineData("smtputf8", null, "SMTPUTF8", true)]
    public void FilterMailParameters_ByExtension(string keyword, string? value, string extension, bool isSent)
    {
        KeyValuePair<string, string?>[] parameters = [new(keyword, value)];

        var filtered = LmtpCommandBuilder.FilterMailParameters(parameters, new HashSet<string> { extension }).ToList();

        Assert.Equal(isSent, filtered.Count == 1);
    }

    [Fact]
    public void BuildMailFrom_NullPath()
    {
        Assert.Equal("MAIL FROM:<>", LmtpCommandBuilder.BuildMailFrom(null, [], new HashSet<string>()));
    }

    [Fact]
    public void BuildMailFrom_ParametersInOrder()
    {
        KeyValuePair<string, string?>[] parameters = [new("BODY", "8BITMIME"), new("SMTPUTF8", null), new("SIZE", "42")];
        var extensions = new HashSet<string> { "8BITMIME", "SMTPUTF8", "SIZE" };

        string command = LmtpCommandBuilder.BuildMailFrom(Sender, parameters, extensions);

        Assert.Equal("MAIL FROM:<sender@example.com> BODY=8BITMIME SMTPUTF8 SIZE=42", command);
    }

    [Fact]
    public void BuildRcptTo_Postmaster()
    {
        Assert.Equal("RCPT TO:<Postmaster>", LmtpCommandBuilder.BuildRcptTo(new Mailbox("Postmaster", "")));
    }

    [Fact]
    public void BuildRcptTo_QuotedLocalPart()
    {
        Assert.Equal("RCPT TO:<\"john doe\"@example.com>", LmtpCommandBuilder.BuildRcptTo(new Mailbox("\"john doe\"", "example.com")));
    }

    [Fact]
    public void BuildRcptTo_AddressLiteral()
    {
        Assert.Equal("RCPT TO:<user@[IPv6:::1]>", LmtpCommandBuilder.BuildRcptTo(new Mailbox("user", "[IPv6:::1]")));
    }

    [Theory]
    [InlineData("user\r\nDATA")]
    [InlineData("user\n")]
    [InlineData("us\0er")]
    public void BuildRcptTo_ControlCharacterThrows(string localPart)
    {
        Assert.Throws<ArgumentException>(() => LmtpCommandBuilder.BuildRcptTo(new Mailbox(localPart, "example.com")));
    }

    [Theory]
    [InlineData("", "x")]
    [InlineData("-SIZE", "1")]
    [InlineData("SI ZE", "1")]
    [InlineData("SIZE", "")]
    [InlineData("SIZE", "1 2")]
    [InlineData("SIZE", "1\r\nRSET")]
    [InlineData("ENVID", "a=b")]
    public void BuildMailFrom_InvalidParameterThrows(string keyword, string value)
    {
        KeyValuePair<string, string?>[] parameters = [new(keyword, value)];
        var extensions = new HashSet<string> { keyword, "SIZE", "DSN" };

        Assert.Throws<ArgumentException>(() => LmtpCommandBuilder.BuildMailFrom(Sender, parameters, extensions));
    }

    [Fact]
    public void BuildRcptTo_DsnParametersWithDsn()
    {
        KeyValuePair<string, string?>[] parameters = [new("NOTIFY", "FAILURE,DELAY"), new("ORCPT", "rfc822;a+2Bb@example.com")];

        string command = LmtpCommandBuilder.BuildRcptTo(new Mailbox("a", "example.com"), parameters, new HashSet<string> { "DSN" });

        Assert.Equal("RCPT TO:<a@example.com> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+2Bb@example.com", command);
    }

    [Fact]
    public void BuildRcptTo_DsnParametersDroppedWithoutDsn()
    {
        KeyValuePair<string, string?>[] parameters = [new("NOTIFY", "NEVER"), new("ORCPT", "rfc822;a@example.com")];

        string command = LmtpCommandBuilder.BuildRcptTo(new Mailbox("a", "example.com"), parameters, new HashSet<string> { "PIPELINING", "8BITMIME" });

        Assert.Equal("RCPT TO:<a@example.com>", command);
    }

    [Fact]
    public void BuildRcptTo_InvalidValueThrows()
    {
        KeyValuePair<string, string?>[] parameters = [new("NOTIFY", "NEVER\r\nQUIT")];

        Assert.Throws<ArgumentException>(() =>
            LmtpCommandBuilder.BuildRcptTo(new Mailbox("a", "example.com"), parameters, new HashSet<string> { "DSN" }));
    }
}

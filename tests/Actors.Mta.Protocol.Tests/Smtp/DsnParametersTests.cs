using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>RFC 3461 parameter values: RET, ENVID, NOTIFY and ORCPT, and xtext decoding.</summary>
public sealed class DsnParametersTests
{
    [Theory]
    [InlineData("FULL", true)]
    [InlineData("HDRS", true)]
    [InlineData("hdrs", true)]
    [InlineData("NONE", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ValidateRet_AcceptsFullAndHdrs(string? value, bool valid)
    {
        Assert.Equal(valid, DsnParameters.ValidateRet(value) is null);
    }

    [Theory]
    [InlineData("QQ314159", true)]
    [InlineData("a+2Bb+3Dc", true)]
    [InlineData("a+2bb", true)]
    [InlineData("a+2", false)]
    [InlineData("a+", false)]
    [InlineData("a+GG", false)]
    [InlineData("a=b", false)]
    [InlineData("a+0Db", false)]
    [InlineData("a+0A", false)]
    [InlineData("a+00", false)]
    [InlineData(null, false)]
    public void ValidateEnvelopeId_ChecksXtext(string? value, bool valid)
    {
        Assert.Equal(valid, DsnParameters.ValidateEnvelopeId(value) is null);
    }

    [Fact]
    public void ValidateEnvelopeId_MaxLength()
    {
        Assert.Null(DsnParameters.ValidateEnvelopeId(new string('x', 100)));
        Assert.NotNull(DsnParameters.ValidateEnvelopeId(new string('x', 101)));
    }

    [Theory]
    [InlineData("NEVER", true)]
    [InlineData("never", true)]
    [InlineData("SUCCESS", true)]
    [InlineData("FAILURE", true)]
    [InlineData("DELAY", true)]
    [InlineData("SUCCESS,FAILURE,DELAY", true)]
    [InlineData("failure,delay", true)]
    [InlineData("NEVER,FAILURE", false)]
    [InlineData("FAILURE,NEVER", false)]
    [InlineData("FAILURE,FAILURE", false)]
    [InlineData("FAILURE,", false)]
    [InlineData(",FAILURE", false)]
    [InlineData("SOMETIMES", false)]
    [InlineData(null, false)]
    public void ValidateNotify_NeverAloneOrList(string? value, bool valid)
    {
        Assert.Equal(valid, DsnParameters.ValidateNotify(value) is null);
    }

    [Theory]
    [InlineData("rfc822;alice@example.com", true)]
    [InlineData("RFC822;a+2Bb@example.com", true)]
    [InlineData("utf-8;alice@example.com", true)]
    [InlineData("rfc822;", false)]
    [InlineData(";alice@example.com", false)]
    [InlineData("alice@example.com", false)]
    [InlineData("rfc 822;alice@example.com", false)]
    [InlineData("rfc822;alice+0D+0A@example.com", false)]
    [InlineData("rfc822;a+Zb@example.com", false)]
    [InlineData(null, false)]
    public void ValidateOriginalRecipient_TypeAndXtext(string? value, bool valid)
    {
        Assert.Equal(valid, DsnParameters.ValidateOriginalRecipient(value) is null);
    }

    [Fact]
    public void ValidateOriginalRecipient_MaxLength()
    {
        Assert.Null(DsnParameters.ValidateOriginalRecipient("rfc822;" + new string('x', 493)));
        Assert.NotNull(DsnParameters.ValidateOriginalRecipient("rfc822;" + new string('x', 494)));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a+2Bb", "a+b")]
    [InlineData("+3D+2B+20", "=+ ")]
    [InlineData("caf\u00e9", "caf\u00e9")]
    public void TryDecodeXtext_Decodes(string text, string expected)
    {
        Assert.True(DsnParameters.TryDecodeXtext(text, out string decoded));
        Assert.Equal(expected, decoded);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("FAILURE", true)]
    [InlineData("success,failure", true)]
    [InlineData("SUCCESS,DELAY", false)]
    [InlineData("NEVER", false)]
    public void NotifiesOnFailure_ReadsNotify(string? notify, bool expected)
    {
        KeyValuePair<string, string?>[] parameters = notify is null ? [] : [new("NOTIFY", notify)];

        Assert.Equal(expected, DsnParameters.NotifiesOnFailure(parameters));
    }
}

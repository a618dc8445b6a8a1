using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Smtp;

public sealed class PathArgumentTests
{
    [Theory]
    [InlineData("FROM:<a@b>")]
    [InlineData("from:<a@b>")]
    [InlineData("From:<a@b>")]
    [InlineData("FROM: <a@b>")]
    public void TryParse_FromPath_ReturnsPath(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<a@b>", result.Path.ToString());
        Assert.False(result.HasParameters);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("TO:<a@b>")]
    [InlineData("to:<a@b>")]
    [InlineData("TO: <a@b>")]
    public void TryParse_ToPath_ReturnsPath(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "TO:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<a@b>", result.Path.ToString());
        Assert.False(result.HasParameters);
    }

    [Fact]
    public void TryParse_NullPath_ReturnsEmptyBrackets()
    {
        bool ok = PathArgument.TryParse("FROM:<>", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<>", result.Path.ToString());
        Assert.False(result.HasParameters);
    }

    [Fact]
    public void TryParse_NullPathWithParameter_ReturnsBoth()
    {
        bool ok = PathArgument.TryParse("FROM:<> BODY=8BITMIME", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<>", result.Path.ToString());
        Assert.Equal("8BITMIME", ValueOf(result, "BODY"));
    }

    [Fact]
    public void TryParse_Parameters_AreSplitAndUpperCased()
    {
        bool ok = PathArgument.TryParse("FROM:<a@b> size=100 Body=8bitmime SMTPUTF8", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<a@b>", result.Path.ToString());
        Assert.Equal(
            [
                new KeyValuePair<string, string?>("SIZE", "100"),
                new KeyValuePair<string, string?>("BODY", "8bitmime"),
                new KeyValuePair<string, string?>("SMTPUTF8", null),
            ],
            result.ToList());
    }

    [Fact]
    public void TryParse_Parameters_AreFoundByKeyword()
    {
        bool ok = PathArgument.TryParse("FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("100", ValueOf(result, "SIZE"));
        Assert.Equal("8BITMIME", ValueOf(result, "BODY"));
        Assert.True(result.TryGetParameter("SMTPUTF8", out _));
        Assert.Null(ValueOf(result, "SMTPUTF8"));
        Assert.False(result.TryGetParameter("RET", out _));
        Assert.Null(ValueOf(result, "RET"));
    }

    [Fact]
    public void TryParse_ExtraSpacesBetweenParameters_AreIgnored()
    {
        bool ok = PathArgument.TryParse("FROM:<a@b>  SIZE=1   SMTPUTF8 ", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal(2, result.ToList().Count);
        Assert.Equal("1", ValueOf(result, "SIZE"));
        Assert.True(result.TryGetParameter("SMTPUTF8", out _));
    }

    [Fact]
    public void TryParse_HyphenatedKeyword_IsAccepted()
    {
        bool ok = PathArgument.TryParse("TO:<a@b> X-TEST=a+b/c", "TO:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("a+b/c", ValueOf(result, "X-TEST"));
    }

    [Fact]
    public void TryParse_Utf8ParameterValue_IsAccepted()
    {
        bool ok = PathArgument.TryParse("TO:<a@b> ORCPT=utf-8;ü@example.com", "TO:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("utf-8;ü@example.com", ValueOf(result, "ORCPT"));
    }

    [Theory]
    [InlineData("FROM:<a@b> SIZE=1 SIZE=2")]
    [InlineData("FROM:<a@b> SIZE=1 size=2")]
    [InlineData("FROM:<a@b> SMTPUTF8 SMTPUTF8")]
    public void TryParse_DuplicateParameter_IsRejected(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.Contains("twice", error);
    }

    [Theory]
    [InlineData("FROM:<a@b> SIZE=")]
    [InlineData("FROM:<a@b> =100")]
    [InlineData("FROM:<a@b> =")]
    [InlineData("FROM:<a@b> SIZE==1")]
    [InlineData("FROM:<a@b> SIZE=1=2")]
    [InlineData("FROM:<a@b> SIZE=1\t")]
    [InlineData("FROM:<a@b> SIZE=\u007f")]
    [InlineData("FROM:<a@b> -SIZE=1")]
    [InlineData("FROM:<a@b> SI_ZE=1")]
    [InlineData("FROM:<a@b> SIZE.=1")]
    [InlineData("FROM:<a@b> SÍZE=1")]
    [InlineData("FROM:<a@b> SIZE:1")]
    public void TryParse_InvalidParameter_IsRejected(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.NotEqual("", error);
    }

    [Theory]
    [InlineData("FROM:a@b")]
    [InlineData("FROM:a@b>")]
    [InlineData("FROM:  <a@b>")]
    [InlineData("FROM:\t<a@b>")]
    [InlineData("FROM:")]
    [InlineData("FROM: ")]
    public void TryParse_MissingOpeningBracket_IsRejected(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.Equal("Address must be in angle brackets", error);
    }

    [Theory]
    [InlineData("FROM:<a@b")]
    [InlineData("FROM:<")]
    [InlineData("FROM:<\"a>b@c>")]
    [InlineData("FROM:<\"a\\\">b@c>")]
    public void TryParse_UnterminatedBracket_IsRejected(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.Equal("Address is missing its closing angle bracket", error);
    }

    [Theory]
    [InlineData("TO:<a@b>", "FROM:")]
    [InlineData("FROM<a@b>", "FROM:")]
    [InlineData("FROMX:<a@b>", "FROM:")]
    [InlineData("<a@b>", "TO:")]
    [InlineData("", "TO:")]
    public void TryParse_WrongPrefix_IsRejected(string argument, string prefix)
    {
        bool ok = PathArgument.TryParse(argument, prefix, out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.StartsWith("Syntax:", error);
    }

    [Fact]
    public void TryParse_QuotedBracket_StaysInPath()
    {
        bool ok = PathArgument.TryParse("FROM:<\"a>b\"@c>", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<\"a>b\"@c>", result.Path.ToString());
        Assert.False(result.HasParameters);
    }

    [Fact]
    public void TryParse_EscapedQuoteInQuotedString_StaysInPath()
    {
        bool ok = PathArgument.TryParse("FROM:<\"a\\\">b\"@c> SIZE=1", "FROM:", out var result, out string error);

        Assert.True(ok, error);
        Assert.Equal("<\"a\\\">b\"@c>", result.Path.ToString());
        Assert.Equal("1", ValueOf(result, "SIZE"));
    }

    [Theory]
    [InlineData("FROM:<a@b>SIZE=1")]
    [InlineData("FROM:<a@b>SIZE=1 SIZE=2")]
    [InlineData("FROM:<a@b>=1")]
    [InlineData("FROM:<a@b>>")]
    [InlineData("FROM:<a@b><c@d>")]
    public void TryParse_NoSpaceAfterPath_IsRejected(string argument)
    {
        bool ok = PathArgument.TryParse(argument, "FROM:", out var result, out string error);

        Assert.False(ok);
        Assert.True(result.Path.IsEmpty);
        Assert.Equal("Expected a space between the address and its parameters", error);
    }

    [Fact]
    public void TryParse_DuplicateParameter_NamesKeywordUpperCased()
    {
        PathArgument.TryParse("FROM:<a@b> size=1 Size=2", "FROM:", out _, out string error);

        Assert.Equal("Parameter SIZE given twice", error);
    }

    [Fact]
    public void ToList_UnknownKeyword_IsUpperCased()
    {
        PathArgument.TryParse("TO:<a@b> x-Test=a NOTIFY=never", "TO:", out var result, out _);

        Assert.Equal(
            [new KeyValuePair<string, string?>("X-TEST", "a"), new KeyValuePair<string, string?>("NOTIFY", "never")],
            result.ToList());
    }

    [Fact]
    public void ToList_NoParameters_IsEmpty()
    {
        PathArgument.TryParse("TO:<a@b> ", "TO:", out var result, out _);

        Assert.Empty(result.ToList());
    }

    [Theory]
    [InlineData("FROM:<user@example.com> SIZE=5120 BODY=8BITMIME", "FROM:")]
    [InlineData("FROM:<> size=1 smtputf8 ret=hdrs envid=abc+2Bdef", "FROM:")]
    [InlineData("TO:<alice@example.com>", "TO:")]
    [InlineData("TO:<\"a>b\"@c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b", "TO:")]
    public void TryParse_ValidArgument_AllocatesNothing(string argument, string prefix)
    {
        long allocated = Allocations.Measure(() =>
        {
            PathArgument.TryParse(argument, prefix, out var result, out _);
            foreach (EsmtpParameter parameter in result.Parameters)
            {
                parameter.GetKeyword();
            }
        });

        Assert.Equal(0, allocated);
    }

    // The value of a parameter as a string, or null when it is absent or has no value.
    private static string? ValueOf(PathArgument argument, string keyword) =>
        argument.TryGetParameter(keyword, out var parameter) && parameter.HasValue ? parameter.Value.ToString() : null;
}

using Actors.Mta.Protocol.Smtp;
using static Actors.Mta.Protocol.Tests.Smtp.DataReaderHarness;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>The maximum line length of the data, counted in octets as received with the line ending.</summary>
public sealed class DataReaderLineLengthTests
{
    private static DataReader Reader(long maxLineLength, BareLineEndingPolicy policy = BareLineEndingPolicy.Reject) =>
        new(long.MaxValue, policy, allowNul: false, maxLineLength: maxLineLength);

    [Fact]
    public void Read_LineAtLimit_Passes()
    {
        // "abcd\r\n" is six octets with its CRLF.
        var result = ReadOnce(Reader(6), Bytes("abcd\r\n.\r\n"));

        Assert.Equal(DataError.None, result.Error);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_CrlfPushesLineOverLimit_SetsError()
    {
        var result = ReadOnce(Reader(5), Bytes("abcd\r\n.\r\n"));

        Assert.Equal(DataError.LineTooLong, result.Error);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_LongLineWithoutEnd_SetsErrorBeforeEnd()
    {
        var result = ReadOnce(Reader(6), Bytes("abcdefg"));

        Assert.Equal(DataError.LineTooLong, result.Error);
        Assert.False(result.IsCompleted);
    }

    [Fact]
    public void Read_StuffingDotCounts()
    {
        // On the wire "..abc\r\n" is seven octets although the stored line is six.
        var result = ReadOnce(Reader(6), Bytes("..abc\r\n.\r\n"));

        Assert.Equal(DataError.LineTooLong, result.Error);
    }

    [Fact]
    public void Read_CountRestartsAfterEachLine()
    {
        var result = ReadOnce(Reader(6), Bytes("abcd\r\nabcd\r\nabcd\r\n.\r\n"));

        Assert.Equal(DataError.None, result.Error);
        Assert.Equal("abcd\r\nabcd\r\nabcd\r\n", Text(result.Output));
    }

    [Theory]
    [InlineData("abcd\nabcd\r\n.\r\n")]
    [InlineData("abcd\rabcd\r\n.\r\n")]
    [InlineData("abcd\r\rabc\r\n.\r\n")]
    public void Read_BareEndingEndsLineWhenNormalized(string input)
    {
        var result = ReadOnce(Reader(6, BareLineEndingPolicy.Normalize), Bytes(input));

        Assert.Equal(DataError.None, result.Error);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_ByteByByte_SameError()
    {
        byte[] input = Bytes("abc\r\n" + new string('x', 20) + "\r\n.\r\nQUIT\r\n");

        var once = ReadOnce(Reader(10), input);
        var bytes = ReadByteByByte(Reader(10), input);

        Assert.Equal(DataError.LineTooLong, once.Error);
        AssertSame(once, bytes, "one byte per call");
    }

    [Fact]
    public void Read_LongLineStillFindsEnd()
    {
        byte[] input = Bytes(new string('x', 5000) + "\r\n.\r\nQUIT\r\n");

        var result = ReadOnce(Reader(1000), input);

        Assert.Equal(DataError.LineTooLong, result.Error);
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length - "QUIT\r\n".Length, result.Consumed);
    }

    [Fact]
    public void Read_DefaultHasNoLineLimit()
    {
        var reader = new DataReader(long.MaxValue, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, Bytes(new string('x', 100_000) + "\r\n.\r\n"));

        Assert.Equal(DataError.None, result.Error);
    }
}

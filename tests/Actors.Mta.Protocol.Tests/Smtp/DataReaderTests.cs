using Actors.Mta.Protocol.Smtp;
using static Actors.Mta.Protocol.Tests.Smtp.DataReaderHarness;

namespace Actors.Mta.Protocol.Tests.Smtp;

public sealed class DataReaderTests
{
    private const long NoLimit = long.MaxValue;

    private static DataReader Reject(bool allowNul = false) => new(NoLimit, BareLineEndingPolicy.Reject, allowNul);

    private static DataReader Normalize(bool allowNul = false) => new(NoLimit, BareLineEndingPolicy.Normalize, allowNul);

    [Fact]
    public void Read_SimpleMessage_OutputsContent()
    {
        byte[] input = Bytes("Subject: hi\r\n\r\nHello\r\n.\r\n");

        var result = ReadOnce(Reject(), input);

        Assert.Equal("Subject: hi\r\n\r\nHello\r\n", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
        Assert.Equal(DataError.None, result.Error);
        Assert.Equal(result.Output.Length, result.MessageSize);
    }

    [Fact]
    public void Read_EmptyMessage_CompletesAtFirstLine()
    {
        var result = ReadOnce(Reject(), Bytes(".\r\n"));

        Assert.Empty(result.Output);
        Assert.True(result.IsCompleted);
        Assert.Equal(3, result.Consumed);
        Assert.Equal(DataError.None, result.Error);
        Assert.Equal(0, result.MessageSize);
    }

    [Fact]
    public void Read_EmptyInput_ConsumesNothing()
    {
        var result = ReadOnce(Reject(), []);

        Assert.Empty(result.Output);
        Assert.False(result.IsCompleted);
        Assert.Equal(0, result.Consumed);
    }

    [Theory]
    [InlineData("..x\r\n.\r\n", ".x\r\n")]
    [InlineData("..\r\n.\r\n", ".\r\n")]
    [InlineData("a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    [InlineData("a\r\n...\r\n.\r\n", "a\r\n..\r\n")]
    [InlineData("a\r\n.x\r\n.\r\n", "a\r\nx\r\n")]
    [InlineData("a\r\n. \r\n.\r\n", "a\r\n \r\n")]
    [InlineData("a\r\nb.\r\n.\r\n", "a\r\nb.\r\n")]
    [InlineData("a\r\nb..c\r\n.\r\n", "a\r\nb..c\r\n")]
    public void Read_DotStuffedLine_IsUnstuffed(string input, string expected)
    {
        var result = ReadOnce(Reject(), Bytes(input));

        Assert.Equal(expected, Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(DataError.None, result.Error);
    }

    [Fact]
    public void Read_DotLineAfterCrlf_EndsMidStream()
    {
        byte[] input = Bytes("a\r\n.\r\nb\r\n.\r\n");

        var result = ReadOnce(Reject(), input);

        Assert.Equal("a\r\n", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(6, result.Consumed);
    }

    [Theory]
    [InlineData("a.\r\nb\r\n.\r\n", "a.\r\nb\r\n")]
    [InlineData("a\r\n.a\r\nb\r\n.\r\n", "a\r\na\r\nb\r\n")]
    [InlineData("a\r\n .\r\nb\r\n.\r\n", "a\r\n .\r\nb\r\n")]
    [InlineData("a\r\n\r\n.\r\n", "a\r\n\r\n")]
    public void Read_DotNotAloneAfterCrlf_DoesNotEnd(string input, string expected)
    {
        var result = ReadOnce(Reject(), Bytes(input));

        Assert.Equal(expected, Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
    }

    [Theory]
    [InlineData("a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    [InlineData("a\r.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    [InlineData("a\n..\r\nb\r\n.\r\n", "a\r\n..\r\nb\r\n")]
    public void Read_DotLineAfterBareEnding_IsContent(string input, string expected)
    {
        var result = ReadOnce(Normalize(), Bytes(input));

        Assert.Equal(expected, Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
        Assert.Equal(DataError.None, result.Error);
    }

    [Theory]
    [InlineData("a\nb\r\n.\r\n", "a\r\nb\r\n")]
    [InlineData("a\rb\r\n.\r\n", "a\r\nb\r\n")]
    [InlineData("a\r\rb\r\n.\r\n", "a\r\n\r\nb\r\n")]
    [InlineData("a\r\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n")]
    [InlineData("a\n\nb\r\n.\r\n", "a\r\n\r\nb\r\n")]
    [InlineData("a\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n")]
    [InlineData("\nb\r\n.\r\n", "\r\nb\r\n")]
    [InlineData("\rb\r\n.\r\n", "\r\nb\r\n")]
    public void Read_BareEndingNormalize_WritesCrlf(string input, string expected)
    {
        var result = ReadOnce(Normalize(), Bytes(input));

        Assert.Equal(expected, Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
        Assert.Equal(DataError.None, result.Error);
        Assert.Equal(result.Output.Length, result.MessageSize);
    }

    [Theory]
    [InlineData("a\nb\r\n.\r\n")]
    [InlineData("a\rb\r\n.\r\n")]
    [InlineData("a\r\r\nb\r\n.\r\n")]
    [InlineData("\nb\r\n.\r\n")]
    [InlineData("a\r\nb\n.\r\n.\r\n")]
    public void Read_BareEndingReject_SetsError(string input)
    {
        var result = ReadOnce(Reject(), Bytes(input));

        Assert.Equal(DataError.BareLineEnding, result.Error);
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
    }

    [Fact]
    public void Read_AfterRejectError_WritesNothing()
    {
        var reader = Reject();
        var output = new ExactBufferWriter();

        reader.Read(Bytes("first\nsecond\r\n"), output);
        int writtenAfterError = output.Written.Count;
        reader.Read(Bytes("third\r\n.\r\n"), output);

        Assert.Equal("first", Text(output.Written.ToArray()));
        Assert.Equal(5, writtenAfterError);
        Assert.Equal(DataError.BareLineEnding, reader.Error);
        Assert.True(reader.IsCompleted);
    }

    [Fact]
    public void Read_Nul_SetsError()
    {
        byte[] input = Bytes("a\0b\r\n.\r\n");

        var result = ReadOnce(Reject(), input);

        Assert.Equal(DataError.NulCharacter, result.Error);
        Assert.Equal("a", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
    }

    [Fact]
    public void Read_NulAllowed_IsContent()
    {
        byte[] input = Bytes("a\0b\r\n\0\r\n.\0\r\n.\r\n");

        var result = ReadOnce(Reject(allowNul: true), input);

        Assert.Equal(DataError.None, result.Error);
        Assert.Equal("a\0b\r\n\0\r\n\0\r\n", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
    }

    [Fact]
    public void Read_NulNormalizeDisallowed_SetsError()
    {
        var result = ReadOnce(Normalize(), Bytes("a\nb\0\r\n.\r\n"));

        Assert.Equal(DataError.NulCharacter, result.Error);
        Assert.Equal("a\r\nb", Text(result.Output));
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_SizeAtLimit_Passes()
    {
        // "abc\r\n" is five bytes of content.
        var reader = new DataReader(5, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, Bytes("abc\r\n.\r\n"));

        Assert.Equal(DataError.None, result.Error);
        Assert.Equal("abc\r\n", Text(result.Output));
        Assert.Equal(5, result.MessageSize);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_SizeOverLimit_SetsError()
    {
        byte[] input = Bytes("abc\r\nmore text\r\n.\r\nQUIT\r\n");
        var reader = new DataReader(4, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, input);

        Assert.Equal(DataError.MessageTooLarge, result.Error);
        Assert.Equal("abc\r", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length - "QUIT\r\n".Length, result.Consumed);
        Assert.Equal("abc\r\nmore text\r\n".Length, result.MessageSize);
    }

    [Fact]
    public void Read_SizeLimitCountsNormalizedBytes()
    {
        // "a\n" becomes "a\r\n", three bytes, so a limit of two is exceeded.
        var reader = new DataReader(2, BareLineEndingPolicy.Normalize);

        var result = ReadOnce(reader, Bytes("a\n.\r\n.\r\n"));

        Assert.Equal(DataError.MessageTooLarge, result.Error);
        Assert.Equal("a\r", Text(result.Output));
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_SizeLimitCountsAfterUnstuffing()
    {
        // "..x\r\n" is four bytes of content once the stuffing dot is removed.
        var reader = new DataReader(4, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, Bytes("..x\r\n.\r\n"));

        Assert.Equal(DataError.None, result.Error);
        Assert.Equal(4, result.MessageSize);
    }

    [Fact]
    public void Read_ZeroLimit_AcceptsEmptyMessage()
    {
        var reader = new DataReader(0, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, Bytes(".\r\n"));

        Assert.Equal(DataError.None, result.Error);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_ErrorKeepsFirstCause()
    {
        var reader = new DataReader(3, BareLineEndingPolicy.Reject);

        var result = ReadOnce(reader, Bytes("a\0\nbcdef\r\n.\r\n"));

        Assert.Equal(DataError.NulCharacter, result.Error);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Read_PipelinedCommand_IsNotConsumed()
    {
        byte[] input = Bytes("a\r\n.\r\nMAIL FROM:<x@y>\r\n");

        var result = ReadOnce(Reject(), input);

        Assert.True(result.IsCompleted);
        Assert.Equal(6, result.Consumed);
        Assert.Equal("a\r\n", Text(result.Output));
    }

    [Fact]
    public void Read_PipelinedDotLine_IsNotConsumed()
    {
        // The next bytes look like more data, but none of them may be read.
        byte[] input = Bytes(".\r\n.\r\n");

        var result = ReadOnce(Reject(), input);

        Assert.True(result.IsCompleted);
        Assert.Equal(3, result.Consumed);
    }

    [Fact]
    public void Read_AfterCompletion_ConsumesNothing()
    {
        var reader = Reject();
        var output = new ExactBufferWriter();
        reader.Read(Bytes("a\r\n.\r\n"), output);

        int consumedBySpan = reader.Read(Bytes("b\r\n"), output);
        long consumedBySequence = reader.Read(SegmentedSequence.Create(Bytes("c\nd\r\n"), 2), output);

        Assert.Equal(0, consumedBySpan);
        Assert.Equal(0, consumedBySequence);
        Assert.Equal("a\r\n", Text(output.Written.ToArray()));
        Assert.Equal(DataError.None, reader.Error);
    }

    [Fact]
    public void Read_SequenceStopsAtEnd_LeavesLaterSegments()
    {
        byte[] input = Bytes("a\r\n.\r\nQUIT\r\nNOOP\r\n");
        var sequence = SegmentedSequence.Create(input, 2, 4, 8, 12);

        var result = ReadSequence(Reject(), sequence);

        Assert.True(result.IsCompleted);
        Assert.Equal(6, result.Consumed);
        Assert.Equal("a\r\n", Text(result.Output));
    }

    [Fact]
    public void Read_SequenceWithEmptySegments_ReadsAll()
    {
        byte[] input = Bytes("a\r\n..b\r\n.\r\n");
        var sequence = SegmentedSequence.Create(input, 0, 0, 3, 3, 4, 4, 9, 11, 11);

        var result = ReadSequence(Reject(), sequence);

        Assert.Equal("a\r\n.b\r\n", Text(result.Output));
        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length, result.Consumed);
    }

    [Fact]
    public void Read_LargeBareLfInput_Normalizes()
    {
        // Each bare LF doubles, the largest expansion an input byte can cause.
        byte[] input = [.. Enumerable.Repeat((byte)'\n', 100_000), .. Bytes("\r\n.\r\n")];

        var result = ReadOnce(Normalize(), input);

        Assert.Equal(200_002, result.Output.Length);
        Assert.True(result.IsCompleted);
        Assert.Equal(DataError.None, result.Error);
    }

    [Fact]
    public void Read_HeldCrExpansion_FitsSpan()
    {
        // A CR held over from the previous call plus input of bare CRs writes two bytes per input byte
        // and two for the held CR. The exact-size writer fails if that exceeds the requested span.
        var reader = Normalize();
        var output = new ExactBufferWriter();

        reader.Read(Bytes("a\r"), output);
        reader.Read(Bytes("\r\r\r"), output);
        reader.Read(Bytes(".\r\n.\r\n"), output);

        Assert.Equal("a\r\n\r\n\r\n\r\n.\r\n", Text(output.Written.ToArray()));
        Assert.True(reader.IsCompleted);
    }

    [Fact]
    public void Read_LargeSpan_RequestsBoundedSpans()
    {
        byte[] input = [.. Enumerable.Repeat((byte)'a', 1 << 20), .. Bytes("\r\n.\r\n")];
        var reader = Reject();
        var output = new ExactBufferWriter();

        int consumed = reader.Read(input, output);

        Assert.True(output.MaxSizeHint <= 2 * DataReader.MaxChunkLength + 2, $"size hint {output.MaxSizeHint}");
        Assert.Equal(input.Length, consumed);
        Assert.Equal((1 << 20) + 2, output.Written.Count);
        Assert.True(reader.IsCompleted);
    }

    [Theory]
    [InlineData("\r\n.\r\nQUIT\r\n")]
    [InlineData("\n.\nMAIL FROM:<x@y>\r\n.\r\nQUIT\r\n")]
    [InlineData("\r\n.\rb\r\n..\r\n.\r\n")]
    [InlineData("\r\n..\r\n.\r\n")]
    public void Read_ChunkBoundary_MatchesLineModel(string tail)
    {
        // Moves the tail across the boundary between the first and second chunk one byte at a time.
        for (int shift = 0; shift <= tail.Length; shift++)
        {
            byte[] input = [.. Enumerable.Repeat((byte)'a', DataReader.MaxChunkLength - shift), .. Bytes(tail)];
            var model = DataReaderModel.Run(input);
            foreach (var policy in new[] { BareLineEndingPolicy.Reject, BareLineEndingPolicy.Normalize })
            {
                var actual = ReadOnce(new DataReader(NoLimit, policy), input);

                AssertSame(model.Expect(policy, allowNul: false), actual, $"{policy} shift {shift}");
            }
        }
    }
}

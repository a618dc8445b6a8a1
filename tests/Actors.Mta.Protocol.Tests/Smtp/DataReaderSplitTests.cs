using Actors.Mta.Protocol.Smtp;
using static Actors.Mta.Protocol.Tests.Smtp.DataReaderHarness;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>
/// Input reaches the reader in whatever pieces the network delivers, so every way of splitting it must give
/// the same output, consumed count, completion and error as reading it in one call.
/// </summary>
public sealed class DataReaderSplitTests
{
    public static TheoryData<string> Inputs
    {
        get
        {
            var data = new TheoryData<string>
            {
                ".\r\n",
                ".\r\nQUIT\r\n",
                "Subject: hi\r\n\r\nHello\r\n.\r\n",
                "..x\r\n..\r\n...\r\n.\r\nNOOP\r\n",
                "a\r\n.b\r\n. \r\nc.\r\n.\r\n",
                "a\r\n.\r\n.\r\n",
                "a\nb\rc\r\rd\n\ne\r\r\n.\r\n",
                "a\r\n.\r\rb\r\n.\r\n",
                "a\r\n.\n.\r\n.\r\n",
                "a\0b\r\n.\0\r\n\0.\r\n.\r\n",
                "big\r\n" + new string('x', 200) + "\r\n.\r\n",
                "unfinished\r\n.\r",
                "unfinished\r\n.",
                "unfinished\r",
            };

            foreach (string sequence in DataReaderSmugglingTests.SequencesOnly)
            {
                data.Add(Text(DataReaderSmugglingTests.Attack(sequence)));
            }

            return data;
        }
    }

    public static TheoryData<BareLineEndingPolicy, bool, long> Options => new()
    {
        { BareLineEndingPolicy.Reject, false, 1_000_000 },
        { BareLineEndingPolicy.Reject, true, 1_000_000 },
        { BareLineEndingPolicy.Normalize, false, 1_000_000 },
        { BareLineEndingPolicy.Normalize, true, 1_000_000 },
        { BareLineEndingPolicy.Normalize, true, 20 },
    };

    public static IEnumerable<object[]> InputsWithOptions
    {
        get
        {
            foreach (string input in Inputs)
            {
                foreach (object[] options in Options)
                {
                    yield return [input, .. options];
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(InputsWithOptions))]
    public void Read_TwoSpans_MatchesOneRead(string text, BareLineEndingPolicy policy, bool allowNul, long maxSize)
    {
        byte[] input = Bytes(text);
        var expected = ReadOnce(new DataReader(maxSize, policy, allowNul), input);

        for (int split = 0; split <= input.Length; split++)
        {
            var actual = ReadInTwo(new DataReader(maxSize, policy, allowNul), input, split);
            AssertSame(expected, actual, $"split at {split}");
        }
    }

    [Theory]
    [MemberData(nameof(InputsWithOptions))]
    public void Read_ByteByByte_MatchesOneRead(string text, BareLineEndingPolicy policy, bool allowNul, long maxSize)
    {
        byte[] input = Bytes(text);
        var expected = ReadOnce(new DataReader(maxSize, policy, allowNul), input);

        var actual = ReadByteByByte(new DataReader(maxSize, policy, allowNul), input);

        AssertSame(expected, actual, "byte by byte");
    }

    [Theory]
    [MemberData(nameof(InputsWithOptions))]
    public void Read_TwoSegments_MatchesOneRead(string text, BareLineEndingPolicy policy, bool allowNul, long maxSize)
    {
        byte[] input = Bytes(text);
        var expected = ReadOnce(new DataReader(maxSize, policy, allowNul), input);

        for (int split = 0; split <= input.Length; split++)
        {
            var sequence = SegmentedSequence.Create(input, split);
            var actual = ReadSequence(new DataReader(maxSize, policy, allowNul), sequence);
            AssertSame(expected, actual, $"segments split at {split}");
        }
    }

    [Theory]
    [MemberData(nameof(InputsWithOptions))]
    public void Read_SegmentPerByte_MatchesOneRead(string text, BareLineEndingPolicy policy, bool allowNul, long maxSize)
    {
        byte[] input = Bytes(text);
        var expected = ReadOnce(new DataReader(maxSize, policy, allowNul), input);

        var actual = ReadSequence(new DataReader(maxSize, policy, allowNul), SegmentedSequence.OneSegmentPerByte(input));

        AssertSame(expected, actual, "one segment per byte");
    }

    [Theory]
    [MemberData(nameof(InputsWithOptions))]
    public void Read_SegmentsThenSpans_MatchesOneRead(string text, BareLineEndingPolicy policy, bool allowNul, long maxSize)
    {
        // Three segments for the first read, then the unconsumed rest as a second read, as a pipe delivers it.
        byte[] input = Bytes(text);
        var expected = ReadOnce(new DataReader(maxSize, policy, allowNul), input);

        for (int split = 0; split <= input.Length; split++)
        {
            var reader = new DataReader(maxSize, policy, allowNul);
            var output = new ExactBufferWriter();
            var first = SegmentedSequence.Create(input[..split], split / 3, split / 3, 2 * split / 3);
            long consumed = reader.Read(first, output);
            consumed += reader.Read(input.AsSpan((int)consumed), output);

            var actual = new DataReadResult(output.Written.ToArray(), consumed, reader.IsCompleted, reader.Error,
                reader.MessageSize);
            AssertSame(expected, actual, $"three segments up to {split}, then a span");
        }
    }
}

using Actors.Mta.Protocol.Smtp;
using static Actors.Mta.Protocol.Tests.Smtp.DataReaderHarness;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>
/// Random input over the bytes that matter to the DATA rules: CR, LF, dot, NUL and one ordinary letter.
/// The seed is fixed so a failure repeats, and each failure message shows the input.
/// </summary>
public sealed class DataReaderPropertyTests
{
    private const int Seed = 5321;
    private const int CaseCount = 5000;
    private const int MaxLength = 40;
    private static readonly byte[] Alphabet = [(byte)'\r', (byte)'\n', (byte)'.', (byte)'a', 0];

    private static readonly (BareLineEndingPolicy Policy, bool AllowNul)[] AllOptions =
    [
        (BareLineEndingPolicy.Reject, false),
        (BareLineEndingPolicy.Reject, true),
        (BareLineEndingPolicy.Normalize, false),
        (BareLineEndingPolicy.Normalize, true),
    ];

    [Fact]
    public void Read_RandomInput_CompletesOnlyAtEnd()
    {
        foreach (byte[] input in RandomInputs())
        {
            foreach (var (policy, allowNul) in AllOptions)
            {
                var result = ReadOnce(new DataReader(long.MaxValue, policy, allowNul), input);
                long end = FirstDataEnd(input);
                string context = $"{policy} allowNul={allowNul} input \"{Escape(input)}\"";

                Assert.True(result.IsCompleted == end >= 0, $"{context}: completed {result.IsCompleted}, end at {end}");
                Assert.True(result.Consumed == (end >= 0 ? end : input.Length),
                    $"{context}: consumed {result.Consumed}, end at {end}");
            }
        }
    }

    [Fact]
    public void Read_RandomInputNormalize_WritesNoBareEnding()
    {
        foreach (byte[] input in RandomInputs())
        {
            var result = ReadOnce(new DataReader(long.MaxValue, BareLineEndingPolicy.Normalize, allowNul: true), input);

            int bare = IndexOfBareLineEnding(result.Output);
            Assert.True(bare < 0, $"input \"{Escape(input)}\": bare line ending at {bare} in \"{Escape(result.Output)}\"");
        }
    }

    [Fact]
    public void Read_RandomInput_MatchesLineModel()
    {
        foreach (byte[] input in RandomInputs())
        {
            var model = DataReaderModel.Run(input);
            foreach (var (policy, allowNul) in AllOptions)
            {
                var expected = model.Expect(policy, allowNul);

                var actual = ReadOnce(new DataReader(long.MaxValue, policy, allowNul), input);

                AssertSame(expected, actual, $"{policy} allowNul={allowNul} input \"{Escape(input)}\"");
            }
        }
    }

    [Fact]
    public void Read_RandomSizeLimit_CutsOutputAtLimit()
    {
        var random = new Random(Seed);
        foreach (byte[] input in RandomInputs())
        {
            var model = DataReaderModel.Run(input);
            int limit = random.Next(model.NormalizedOutput.Length + 2);
            bool tooLarge = model.NormalizedOutput.Length > limit;
            var expected = new DataReadResult(
                model.NormalizedOutput[..Math.Min(limit, model.NormalizedOutput.Length)],
                model.Consumed,
                model.IsCompleted,
                tooLarge ? DataError.MessageTooLarge : DataError.None,
                model.NormalizedOutput.Length);

            var actual = ReadOnce(new DataReader(limit, BareLineEndingPolicy.Normalize, allowNul: true), input);

            AssertSame(expected, actual, $"limit {limit} input \"{Escape(input)}\"");
        }
    }

    [Fact]
    public void Read_RandomSplits_MatchOneRead()
    {
        var random = new Random(Seed);
        foreach (byte[] input in RandomInputs())
        {
            foreach (var (policy, allowNul) in AllOptions)
            {
                string context = $"{policy} allowNul={allowNul} input \"{Escape(input)}\"";
                var expected = ReadOnce(new DataReader(long.MaxValue, policy, allowNul), input);
                int split = random.Next(input.Length + 1);

                var inTwo = ReadInTwo(new DataReader(long.MaxValue, policy, allowNul), input, split);
                var byteByByte = ReadByteByByte(new DataReader(long.MaxValue, policy, allowNul), input);
                var perByteSegments = ReadSequence(new DataReader(long.MaxValue, policy, allowNul),
                    SegmentedSequence.OneSegmentPerByte(input));

                AssertSame(expected, inTwo, $"{context} split at {split}");
                AssertSame(expected, byteByByte, $"{context} byte by byte");
                AssertSame(expected, perByteSegments, $"{context} one segment per byte");
            }
        }
    }

    /// <summary>Returns the index of the first CR not followed by LF or LF not after CR, or -1.</summary>
    internal static int IndexOfBareLineEnding(byte[] bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            bool bareCr = bytes[i] == '\r' && (i + 1 == bytes.Length || bytes[i + 1] != '\n');
            bool bareLf = bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r');
            if (bareCr || bareLf)
            {
                return i;
            }
        }

        return -1;
    }

    // The end of the data is right after the first "\r\n.\r\n", or after ".\r\n" when the input starts with it.
    // Every CR LF pair in the input is a real line ending, so the first such match is the end.
    private static long FirstDataEnd(byte[] input)
    {
        if (input.AsSpan().StartsWith(".\r\n"u8))
        {
            return 3;
        }

        int index = input.AsSpan().IndexOf("\r\n.\r\n"u8);
        return index < 0 ? -1 : index + 5;
    }

    // Half the inputs are single random bytes. The other half are random pieces that include CRLF and ".\r\n",
    // so that the end of the data and dot lines after a real CRLF occur in most inputs, not one in fifty.
    private static IEnumerable<byte[]> RandomInputs()
    {
        byte[][] pieces = [.. Alphabet.Select(b => new[] { b }), "\r\n"u8.ToArray(), ".\r\n"u8.ToArray()];
        var random = new Random(Seed);
        for (int n = 0; n < CaseCount; n++)
        {
            var input = new List<byte>();
            int length = random.Next(MaxLength + 1);
            while (input.Count < length)
            {
                if (n % 2 == 0)
                {
                    input.Add(Alphabet[random.Next(Alphabet.Length)]);
                }
                else
                {
                    input.AddRange(pieces[random.Next(pieces.Length)]);
                }
            }

            yield return [.. input];
        }
    }
}

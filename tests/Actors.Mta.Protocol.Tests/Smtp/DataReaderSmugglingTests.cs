using Actors.Mta.Protocol.Smtp;
using static Actors.Mta.Protocol.Tests.Smtp.DataReaderHarness;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>
/// SMTP smuggling: a message whose content contains a line ending other than CRLF, a dot, and then a second
/// SMTP transaction. A server that takes that dot line for the end of the data runs the second transaction
/// as if the client had sent it (the attacks published by SEC Consult in December 2023).
/// </summary>
public sealed class DataReaderSmugglingTests
{
    private const string Before = "Subject: t\r\n\r\nhello";
    private const string Smuggled = "MAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\nsmuggled\r\n";
    private const string RealEnd = ".\r\n";
    private const string NextCommand = "QUIT\r\n";

    /// <summary>
    /// Sequences that end "hello" and stand in for the end of data, each with the content a Normalize reader
    /// writes for them. A dot right after a real CRLF is dot-stuffing and is removed, but a dot after a bare
    /// line ending is kept.
    /// </summary>
    public static TheoryData<string, string> Sequences => new()
    {
        { "\n.\n", "\r\n.\r\n" },
        { "\n\0.\n", "\r\n\0.\r\n" },
        { "\n.\0\n", "\r\n.\0\r\n" },
        { "\n\0.\0\n", "\r\n\0.\0\r\n" },

        { "\r.\r", "\r\n.\r\n" },
        { "\r\0.\r", "\r\n\0.\r\n" },
        { "\r.\0\r", "\r\n.\0\r\n" },
        { "\r\0.\0\r", "\r\n\0.\0\r\n" },

        { "\n.\r\n", "\r\n.\r\n" },
        { "\n\0.\r\n", "\r\n\0.\r\n" },
        { "\n.\0\r\n", "\r\n.\0\r\n" },
        { "\n\0.\0\r\n", "\r\n\0.\0\r\n" },

        { "\r\n.\n", "\r\n\r\n" },
        { "\r\n\0.\n", "\r\n\0.\r\n" },
        { "\r\n.\0\n", "\r\n\0\r\n" },
        { "\r\n\0.\0\n", "\r\n\0.\0\r\n" },

        { "\r.\r\n", "\r\n.\r\n" },
        { "\r\0.\r\n", "\r\n\0.\r\n" },
        { "\r.\0\r\n", "\r\n.\0\r\n" },
        { "\r\0.\0\r\n", "\r\n\0.\0\r\n" },

        { "\r\n.\r", "\r\n\r\n" },
        { "\r\n\0.\r", "\r\n\0.\r\n" },
        { "\r\n.\0\r", "\r\n\0\r\n" },
        { "\r\n\0.\0\r", "\r\n\0.\0\r\n" },

        { "\r.\n", "\r\n.\r\n" },
        { "\r\0.\0\n", "\r\n\0.\0\r\n" },
        { "\n.\r", "\r\n.\r\n" },
        { "\n\0.\0\r", "\r\n\0.\0\r\n" },
        { "\n\r.\r\n", "\r\n\r\n.\r\n" },
        { "\n\r\0.\0\r\n", "\r\n\r\n\0.\0\r\n" },
        { "\r\r.\r\r", "\r\n\r\n.\r\n\r\n" },
        { "\n\n.\n\n", "\r\n\r\n.\r\n\r\n" },
    };

    /// <summary>The sequences of <see cref="Sequences"/> alone.</summary>
    public static TheoryData<string> SequencesOnly
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (object[] row in Sequences)
            {
                data.Add((string)row[0]);
            }

            return data;
        }
    }

    /// <summary>Builds the attack input. The real end of the data is just before <see cref="NextCommand"/>.</summary>
    public static byte[] Attack(string sequence) => Bytes(Before + sequence + Smuggled + RealEnd + NextCommand);

    [Theory]
    [MemberData(nameof(SequencesOnly))]
    public void Read_SmugglingReject_EndsAtRealEnd(string sequence)
    {
        byte[] input = Attack(sequence);
        var reader = new DataReader(1_000_000, BareLineEndingPolicy.Reject, allowNul: true);

        var result = ReadOnce(reader, input);

        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length - NextCommand.Length, result.Consumed);
        Assert.Equal(DataError.BareLineEnding, result.Error);
        Assert.DoesNotContain("MAIL FROM", Text(result.Output));
    }

    [Theory]
    [MemberData(nameof(SequencesOnly))]
    public void Read_SmugglingRejectWithoutNul_EndsAtRealEnd(string sequence)
    {
        byte[] input = Attack(sequence);
        var reader = new DataReader(1_000_000, BareLineEndingPolicy.Reject, allowNul: false);

        var result = ReadOnce(reader, input);

        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length - NextCommand.Length, result.Consumed);
        Assert.NotEqual(DataError.None, result.Error);
        Assert.DoesNotContain("MAIL FROM", Text(result.Output));
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Read_SmugglingNormalize_KeepsCommandsAsContent(string sequence, string normalized)
    {
        byte[] input = Attack(sequence);
        var reader = new DataReader(1_000_000, BareLineEndingPolicy.Normalize, allowNul: true);

        var result = ReadOnce(reader, input);

        Assert.True(result.IsCompleted);
        Assert.Equal(input.Length - NextCommand.Length, result.Consumed);
        Assert.Equal(DataError.None, result.Error);
        Assert.Equal(Escape(Bytes(Before + normalized + Smuggled)), Escape(result.Output));
    }

    [Theory]
    [MemberData(nameof(SequencesOnly))]
    public void Read_SmugglingPrefix_DoesNotComplete(string sequence)
    {
        byte[] input = Attack(sequence);
        int lastDataByte = input.Length - NextCommand.Length - 1;

        foreach (var policy in new[] { BareLineEndingPolicy.Reject, BareLineEndingPolicy.Normalize })
        {
            var reader = new DataReader(1_000_000, policy, allowNul: true);
            var output = new ExactBufferWriter();

            int consumed = reader.Read(input.AsSpan(0, lastDataByte), output);
            Assert.False(reader.IsCompleted, $"{policy}: completed before the final LF");
            Assert.Equal(lastDataByte, consumed);

            consumed = reader.Read(input.AsSpan(lastDataByte), output);
            Assert.True(reader.IsCompleted, $"{policy}: not completed by the final LF");
            Assert.Equal(1, consumed);
        }
    }

    [Theory]
    [MemberData(nameof(SequencesOnly))]
    public void Read_SmugglingNormalize_WritesNoBareEnding(string sequence)
    {
        var reader = new DataReader(1_000_000, BareLineEndingPolicy.Normalize, allowNul: true);

        var result = ReadOnce(reader, Attack(sequence));

        Assert.Equal(-1, DataReaderPropertyTests.IndexOfBareLineEnding(result.Output));
    }
}

using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>
/// A line-by-line restatement of the DATA rules that <see cref="DataReader"/> implements as a byte state
/// machine, used as the expected result for random input. It splits the whole input into lines first, so it
/// shares no code or state layout with the reader.
/// </summary>
/// <remarks>
/// Rules: a line ends with CRLF, with a CR not followed by LF (bare CR) or with an LF not after a CR (bare LF).
/// A CR as the last input byte is undecided, so that line is still open. A line that is exactly "." and ends
/// with CRLF ends the data when the line before it ended with CRLF, or when it is the first line. A leading dot
/// on such a line is dot-stuffing and is removed. Under Normalize every line ending becomes CRLF.
/// </remarks>
internal sealed record DataReaderModel(
    byte[] NormalizedOutput,
    long Consumed,
    bool IsCompleted,
    long FirstBareIndex,
    int FirstBareOutputLength,
    long FirstNulIndex,
    int FirstNulOutputLength,
    int BareCount)
{
    public static DataReaderModel Run(byte[] input)
    {
        var output = new List<byte>();
        bool previousCrlf = true;
        long firstBare = -1;
        int firstBareOutput = -1;
        long firstNul = -1;
        int firstNulOutput = -1;
        int bareCount = 0;
        int start = 0;

        while (true)
        {
            int end = start;
            while (end < input.Length && input[end] != '\r' && input[end] != '\n')
            {
                end++;
            }

            bool open = end == input.Length || (input[end] == '\r' && end + 1 == input.Length);
            bool crlf = !open && input[end] == '\r' && input[end + 1] == '\n';
            bool isDotLine = end - start == 1 && input[start] == '.';
            if (crlf && previousCrlf && isDotLine)
            {
                return new DataReaderModel([.. output], end + 2, true, firstBare, firstBareOutput, firstNul,
                    firstNulOutput, bareCount);
            }

            int contentStart = previousCrlf && end > start && input[start] == '.' ? start + 1 : start;
            for (int i = contentStart; i < end; i++)
            {
                if (input[i] == 0 && firstNul < 0)
                {
                    firstNul = i;
                    firstNulOutput = output.Count + (i - contentStart);
                }
            }

            output.AddRange(input.AsSpan(contentStart, end - contentStart));
            if (open)
            {
                return new DataReaderModel([.. output], input.Length, false, firstBare, firstBareOutput, firstNul,
                    firstNulOutput, bareCount);
            }

            if (!crlf)
            {
                bareCount++;
                if (firstBare < 0)
                {
                    firstBare = end;
                    firstBareOutput = output.Count;
                }
            }

            output.Add((byte)'\r');
            output.Add((byte)'\n');
            previousCrlf = crlf;
            start = end + (crlf ? 2 : 1);
        }
    }

    /// <summary>
    /// Returns what a reader with these options and no size limit should report: the first error by input
    /// position, output cut where that error occurred, and a message size that excludes rejected line endings.
    /// </summary>
    public DataReadResult Expect(BareLineEndingPolicy policy, bool allowNul)
    {
        long bareIndex = policy == BareLineEndingPolicy.Reject ? FirstBareIndex : -1;
        long nulIndex = allowNul ? -1 : FirstNulIndex;

        DataError error = DataError.None;
        int outputLength = NormalizedOutput.Length;
        if (bareIndex >= 0 && (nulIndex < 0 || bareIndex < nulIndex))
        {
            error = DataError.BareLineEnding;
            outputLength = FirstBareOutputLength;
        }
        else if (nulIndex >= 0)
        {
            error = DataError.NulCharacter;
            outputLength = FirstNulOutputLength;
        }

        // Under Reject a bare line ending is dropped, not counted, where Normalize counts its CRLF.
        long size = NormalizedOutput.Length - (policy == BareLineEndingPolicy.Reject ? 2L * BareCount : 0);
        return new DataReadResult(NormalizedOutput[..outputLength], Consumed, IsCompleted, error, size);
    }
}

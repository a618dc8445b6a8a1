using System.Buffers;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/> values, as a pipe returns them.</summary>
internal static class SegmentedSequence
{
    /// <summary>
    /// Creates a sequence over <paramref name="data"/> with a segment boundary at each offset in
    /// <paramref name="boundaries"/>. Offsets must be ascending, and a repeated offset makes an empty segment.
    /// </summary>
    public static ReadOnlySequence<byte> Create(byte[] data, params int[] boundaries)
    {
        var first = new Segment(data.AsMemory(0, boundaries.Length == 0 ? data.Length : boundaries[0]), 0);
        var last = first;
        for (int i = 0; i < boundaries.Length; i++)
        {
            int start = boundaries[i];
            int end = i + 1 < boundaries.Length ? boundaries[i + 1] : data.Length;
            last = last.Append(data.AsMemory(start, end - start));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Creates a sequence with one segment per byte.</summary>
    public static ReadOnlySequence<byte> OneSegmentPerByte(byte[] data)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        return Create(data, Enumerable.Range(1, data.Length - 1).ToArray());
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

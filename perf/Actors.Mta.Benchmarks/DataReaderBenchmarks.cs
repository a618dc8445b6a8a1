using System.Buffers;
using System.Text;
using Actors.Mta.Protocol.Smtp;
using BenchmarkDotNet.Attributes;

namespace Actors.Mta.Benchmarks;

/// <summary>
/// Cost of reading one message body through <see cref="DataReader"/>: CRLF lines of 76 characters, every
/// tenth line dot-stuffed, ended by CRLF.CRLF, fed as a sequence of 4 KiB segments the way a pipe delivers it.
/// </summary>
[MemoryDiagnoser]
public class DataReaderBenchmarks
{
    private const int SegmentLength = 4096;

    private readonly ArrayBufferWriter<byte> _output = new(2 * 1024 * 1024);
    private ReadOnlySequence<byte> _input;

    /// <summary>Approximate message size in bytes, terminating dot line excluded.</summary>
    [Params(5 * 1024, 1024 * 1024)]
    public int MessageBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _input = BuildSegmentedSequence(BuildMessage(MessageBytes), SegmentLength);
    }

    [Benchmark]
    public long Read()
    {
        // The writer is reused so the benchmark measures the reader, not the growth of its output buffer.
        _output.ResetWrittenCount();
        var reader = new DataReader(maxMessageSize: long.MaxValue, BareLineEndingPolicy.Reject, maxLineLength: 1000);
        long consumed = reader.Read(_input, _output);
        if (!reader.IsCompleted || reader.Error != DataError.None)
        {
            throw new InvalidOperationException($"DataReader stopped early: completed={reader.IsCompleted}, error={reader.Error}");
        }

        return consumed;
    }

    private static byte[] BuildMessage(int size)
    {
        var text = new StringBuilder(size + 128);
        text.Append("From: user@example.com\r\nTo: alice@example.com\r\nSubject: benchmark\r\n\r\n");
        for (int line = 0; text.Length < size; line++)
        {
            if (line % 10 == 0)
            {
                // A body line starting with a dot is sent dot-stuffed (RFC 5321 section 4.5.2).
                text.Append("..");
            }

            text.Append('x', 76).Append("\r\n");
        }

        text.Append(".\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static ReadOnlySequence<byte> BuildSegmentedSequence(byte[] data, int segmentLength)
    {
        Segment? first = null;
        Segment? last = null;
        for (int offset = 0; offset < data.Length; offset += segmentLength)
        {
            var memory = new ReadOnlyMemory<byte>(data, offset, Math.Min(segmentLength, data.Length - offset));
            if (last is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last.Append(memory);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
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

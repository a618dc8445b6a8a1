using System.Buffers;
using System.Text;
using Actors.Mta.Protocol.Smtp;

namespace Actors.Mta.Protocol.Tests.Smtp;

/// <summary>Everything a caller can observe after feeding input to one <see cref="DataReader"/>.</summary>
internal sealed record DataReadResult(byte[] Output, long Consumed, bool IsCompleted, DataError Error, long MessageSize)
{
    public override string ToString() =>
        $"output=\"{DataReaderHarness.Escape(Output)}\" consumed={Consumed} completed={IsCompleted} " +
        $"error={Error} size={MessageSize}";
}

/// <summary>Ways of feeding input to a <see cref="DataReader"/>, and helpers to compare the results.</summary>
internal static class DataReaderHarness
{
    /// <summary>Converts a test string to bytes one char per byte, so "\0" and "\r" stay single octets.</summary>
    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    public static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Writes CR, LF and NUL as C# escapes so failure messages show them.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes)
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                0 => "\\0",
                _ => ((char)b).ToString(),
            });
        }

        return text.ToString();
    }

    /// <summary>Reads the whole input with one call of the span overload.</summary>
    public static DataReadResult ReadOnce(DataReader reader, byte[] input)
    {
        var output = new ExactBufferWriter();
        long consumed = reader.Read(input, output);
        return Result(reader, output, consumed);
    }

    /// <summary>
    /// Reads input[..split] and then the unconsumed rest, as a caller that slices off the consumed bytes does.
    /// </summary>
    public static DataReadResult ReadInTwo(DataReader reader, byte[] input, int split)
    {
        var output = new ExactBufferWriter();
        int first = reader.Read(input.AsSpan(0, split), output);
        int second = reader.Read(input.AsSpan(first), output);
        return Result(reader, output, first + second);
    }

    /// <summary>Reads one byte per call until the reader completes or the input ends.</summary>
    public static DataReadResult ReadByteByByte(DataReader reader, byte[] input)
    {
        var output = new ExactBufferWriter();
        long consumed = 0;
        for (int i = 0; i < input.Length && !reader.IsCompleted; i++)
        {
            consumed += reader.Read(input.AsSpan(i, 1), output);
        }

        return Result(reader, output, consumed);
    }

    /// <summary>Reads the whole sequence with one call of the sequence overload.</summary>
    public static DataReadResult ReadSequence(DataReader reader, ReadOnlySequence<byte> input)
    {
        var output = new ExactBufferWriter();
        long consumed = reader.Read(input, output);
        return Result(reader, output, consumed);
    }

    /// <summary>Asserts each observable part of two results separately, naming how the input was fed.</summary>
    public static void AssertSame(DataReadResult expected, DataReadResult actual, string feeding)
    {
        Assert.True(expected.Output.AsSpan().SequenceEqual(actual.Output),
            $"{feeding}: output \"{Escape(actual.Output)}\", expected \"{Escape(expected.Output)}\"");
        Assert.True(expected.Consumed == actual.Consumed,
            $"{feeding}: consumed {actual.Consumed}, expected {expected.Consumed}");
        Assert.True(expected.IsCompleted == actual.IsCompleted,
            $"{feeding}: completed {actual.IsCompleted}, expected {expected.IsCompleted}");
        Assert.True(expected.Error == actual.Error,
            $"{feeding}: error {actual.Error}, expected {expected.Error}");
        Assert.True(expected.MessageSize == actual.MessageSize,
            $"{feeding}: message size {actual.MessageSize}, expected {expected.MessageSize}");
    }

    private static DataReadResult Result(DataReader reader, ExactBufferWriter output, long consumed) =>
        new(output.Written.ToArray(), consumed, reader.IsCompleted, reader.Error, reader.MessageSize);
}

/// <summary>
/// An <see cref="IBufferWriter{T}"/> whose spans are exactly as long as the size hint, so a reader that writes
/// more than it requested fails with an index error instead of passing by luck on a large pooled buffer.
/// </summary>
internal sealed class ExactBufferWriter : IBufferWriter<byte>
{
    private byte[] _buffer = [];

    public List<byte> Written { get; } = [];

    /// <summary>The largest size hint passed to GetSpan or GetMemory.</summary>
    public int MaxSizeHint { get; private set; }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        MaxSizeHint = Math.Max(MaxSizeHint, sizeHint);
        _buffer = new byte[Math.Max(sizeHint, 1)];
        return _buffer;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _buffer.Length);
        Written.AddRange(_buffer.AsSpan(0, count));
        _buffer = [];
    }
}

using System.Buffers;
using System.Text;
using Actors.Mta.Protocol.Lmtp;

namespace Actors.Mta.Protocol.Tests.Lmtp;

public sealed class DotStufferTests
{
    /// <summary>Message content and the bytes expected on the wire, terminator included.</summary>
    public static TheoryData<string, string> Cases => new()
    {
        { "", ".\r\n" },
        { "a\r\n", "a\r\n.\r\n" },
        { "a", "a\r\n.\r\n" },
        { "a\r\n\r\n", "a\r\n\r\n.\r\n" },
        { ".", "..\r\n.\r\n" },
        { ".\r\n", "..\r\n.\r\n" },
        { ".x\r\n", "..x\r\n.\r\n" },
        { "..x\r\n", "...x\r\n.\r\n" },
        { "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
        { "a\r\n.\r\n.\r\n", "a\r\n..\r\n..\r\n.\r\n" },
        { "a.b\r\n. \r\n", "a.b\r\n.. \r\n.\r\n" },
        { "a\r", "a\r\n.\r\n" },
        { "a\n", "a\n\r\n.\r\n" },
        { "a\n.b", "a\n..b\r\n.\r\n" },
        { "a\rb\r\n", "a\rb\r\n.\r\n" },
        { "a\r.b\r\n", "a\r.b\r\n.\r\n" },
        { "\r\n", "\r\n.\r\n" },
        { "\n", "\n\r\n.\r\n" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stuff_WholeMessage(string message, string expected)
    {
        Assert.Equal(expected, Stuff(message, chunkSize: int.MaxValue));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stuff_OneByteChunks(string message, string expected)
    {
        Assert.Equal(expected, Stuff(message, chunkSize: 1));
    }

    [Fact]
    public void Stuff_EverySplitPointSame()
    {
        const string message = ".a\r\n..\r\nb.\r\n.\r\n\r\n.c\nd\r.e";
        string expected = Stuff(message, chunkSize: int.MaxValue);

        for (int split = 1; split < message.Length; split++)
        {
            Assert.Equal(expected, StuffSplitAt(message, split));
        }
    }

    [Fact]
    public void Stuff_EmptyChunkIgnored()
    {
        var stuffer = new DotStuffer();
        var output = new ArrayBufferWriter<byte>();

        stuffer.Write("a\r\n"u8, output);
        stuffer.Write([], output);
        stuffer.Write(".b"u8, output);
        stuffer.Complete(output);

        Assert.Equal("a\r\n..b\r\n.\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    private static string Stuff(string message, int chunkSize)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(message);
        var stuffer = new DotStuffer();
        var output = new ArrayBufferWriter<byte>();
        for (int offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            stuffer.Write(bytes.AsSpan(offset, Math.Min(chunkSize, bytes.Length - offset)), output);
        }

        stuffer.Complete(output);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    private static string StuffSplitAt(string message, int split)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(message);
        var stuffer = new DotStuffer();
        var output = new ArrayBufferWriter<byte>();
        stuffer.Write(bytes.AsSpan(0, split), output);
        stuffer.Write(bytes.AsSpan(split), output);
        stuffer.Complete(output);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }
}

using Actors.Mta.Core.Delivery;

namespace Actors.Mta.Core.Tests.Delivery;

/// <summary>Which BINARYMIME contents DATA can carry unchanged: CRLF text only, without NUL.</summary>
public sealed class BinaryContentTests
{
    public static TheoryData<byte[], bool> Contents => new()
    {
        { ""u8.ToArray(), false },
        { "Subject: x\r\n\r\nbody\r\n"u8.ToArray(), false },
        { [0xC3, 0xA9, 0xFF, 0x80, (byte)'\r', (byte)'\n'], false },
        { "no line ending at the end"u8.ToArray(), false },
        { "bare\nLF\r\n"u8.ToArray(), true },
        { "\nleading LF"u8.ToArray(), true },
        { "bare\rCR\r\n"u8.ToArray(), true },
        { "ends with CR\r"u8.ToArray(), true },
        { "CR CR LF\r\r\n"u8.ToArray(), true },
        { [(byte)'a', 0, (byte)'\r', (byte)'\n'], true },
    };

    [Theory]
    [MemberData(nameof(Contents))]
    public async Task NeedsBinaryTransport_DetectsNulAndBareLineEndings(byte[] content, bool expected)
    {
        using var stream = new MemoryStream(content);

        bool result = await BinaryContent.NeedsBinaryTransportAsync(stream);

        Assert.Equal(expected, result);
    }

    [Fact]
    public async Task NeedsBinaryTransport_CrLfAcrossBufferBoundary()
    {
        // 64 KiB is the read size: the CR ends one read and the LF starts the next.
        byte[] content = new byte[64 * 1024 + 1];
        Array.Fill(content, (byte)'x');
        content[64 * 1024 - 1] = (byte)'\r';
        content[64 * 1024] = (byte)'\n';
        using var stream = new MemoryStream(content);

        Assert.False(await BinaryContent.NeedsBinaryTransportAsync(stream));
    }

    [Theory]
    [InlineData("BODY", "BINARYMIME", true)]
    [InlineData("BODY", "binarymime", true)]
    [InlineData("BODY", "8BITMIME", false)]
    [InlineData("SMTPUTF8", null, false)]
    public void IsBinaryMime_ReadsBodyParameter(string keyword, string? value, bool expected)
    {
        Assert.Equal(expected, BinaryContent.IsBinaryMime([new(keyword, value)]));
    }
}

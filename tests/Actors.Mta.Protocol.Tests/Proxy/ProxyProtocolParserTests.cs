using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Actors.Mta.Protocol.Proxy;
using Actors.Mta.Protocol.Tests.Smtp;

namespace Actors.Mta.Protocol.Tests.Proxy;

/// <summary>PROXY protocol headers of versions 1 and 2, as HAProxy's specification defines them.</summary>
public sealed class ProxyProtocolParserTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ProxyParseStatus Parse(byte[] input, out ProxyHeader? header, out string error) =>
        ProxyProtocolParser.TryParse(new ReadOnlySequence<byte>(input), out header, out error);

    private static ProxyParseStatus Parse(string input, out ProxyHeader? header) =>
        Parse(Encoding.ASCII.GetBytes(input), out header, out _);

    /// <summary>Builds a version 2 header: command (0 LOCAL, 1 PROXY), family and transport byte, address block and extra bytes.</summary>
    private static byte[] V2(int command, byte familyAndTransport, byte[] block, int? declaredLength = null)
    {
        var header = new byte[16 + block.Length];
        Signature.CopyTo(header, 0);
        header[12] = (byte)(0x20 | command);
        header[13] = familyAndTransport;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(declaredLength ?? block.Length));
        block.CopyTo(header, 16);
        return header;
    }

    private static byte[] Inet4Block(string source, string destination, int sourcePort, int destinationPort)
    {
        var block = new byte[12];
        IPAddress.Parse(source).GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(block, 4);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), (ushort)destinationPort);
        return block;
    }

    private static byte[] Inet6Block(string source, string destination, int sourcePort, int destinationPort)
    {
        var block = new byte[36];
        IPAddress.Parse(source).GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(block, 16);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(32), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(34), (ushort)destinationPort);
        return block;
    }

    [Fact]
    public void V1_Tcp4GivesSourceAndLength()
    {
        const string line = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n";

        var status = Parse(line + "EHLO x\r\n", out var header);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(1, header!.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 25), header.Destination);
        Assert.Equal(line.Length, header.Length);
    }

    [Fact]
    public void V1_Tcp6GivesSource()
    {
        var status = Parse("PROXY TCP6 2001:db8::7 2001:db8::1 65535 25\r\n", out var header);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 65535), header!.Source);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")]
    public void V1_UnknownHasNoSource(string line)
    {
        var status = Parse(line, out var header);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Null(header!.Source);
        Assert.Equal(line.Length, header.Length);
    }

    [Fact]
    public void V1_MaxLengthIsAccepted()
    {
        string line = "PROXY UNKNOWN " + new string('x', ProxyProtocolParser.MaxV1Length - "PROXY UNKNOWN \r\n".Length) + "\r\n";

        var status = Parse(line, out var header);

        Assert.Equal(ProxyProtocolParser.MaxV1Length, line.Length);
        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(107, header!.Length);
    }

    [Fact]
    public void V1_OverMaxLengthIsInvalid()
    {
        string line = "PROXY UNKNOWN " + new string('x', ProxyProtocolParser.MaxV1Length + 1 - "PROXY UNKNOWN \r\n".Length) + "\r\n";

        var status = Parse(Encoding.ASCII.GetBytes(line), out _, out string error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Contains("107", error);
    }

    [Theory]
    [InlineData("P")]
    [InlineData("PROXY")]
    [InlineData("PROXY TCP4 192.0.2.7")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r")]
    public void V1_TruncatedIsIncomplete(string input)
    {
        var status = Parse(input, out _);

        Assert.Equal(ProxyParseStatus.Incomplete, status);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n")]
    [InlineData("PROXY TCP4  192.0.2.7 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 extra\r\n")]
    [InlineData("PROXY TCP5 192.0.2.7 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY tcp4 192.0.2.7 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP6 192.0.2.7 2001:db8::1 56324 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.256 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP4 192.0.02.7 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP4 3221225991 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP4 0x7f.0.0.1 198.51.100.1 56324 25\r\n")]
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 56324 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 025 25\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\0\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 2é\r\n")]
    [InlineData("proxy TCP4 192.0.2.7 198.51.100.1 56324 25\r\n")]
    [InlineData("EHLO client.example\r\n")]
    [InlineData("PROXZ TCP4 192.0.2.7 198.51.100.1 56324 25\r\n")]
    public void V1_MalformedIsInvalid(string input)
    {
        var status = Parse(Encoding.UTF8.GetBytes(input), out _, out string error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.NotEmpty(error);
    }

    [Fact]
    public void V2_ProxyInet4GivesSource()
    {
        byte[] input = [.. V2(1, 0x11, Inet4Block("192.0.2.7", "198.51.100.1", 56324, 25)), .. "EHLO x\r\n"u8];

        var status = Parse(input, out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(2, header!.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 25), header.Destination);
        Assert.Equal(28, header.Length);
    }

    [Fact]
    public void V2_ProxyInet6GivesSource()
    {
        byte[] input = V2(1, 0x21, Inet6Block("2001:db8::7", "2001:db8::1", 443, 25));

        var status = Parse(input, out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 443), header!.Source);
        Assert.Equal(52, header.Length);
    }

    [Fact]
    public void V2_TlvsAfterAddressAreSkipped()
    {
        // A type-length-value record such as PP2_TYPE_UNIQUE_ID (0x05) after the address block.
        byte[] block = [.. Inet4Block("192.0.2.7", "198.51.100.1", 1, 25), 0x05, 0x00, 0x03, 0xAA, 0xBB, 0xCC];

        var status = Parse(V2(1, 0x11, block), out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(16 + block.Length, header!.Length);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), header.Source!.Address);
    }

    [Fact]
    public void V2_LocalHasNoSource()
    {
        var status = Parse(V2(0, 0x00, []), out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Null(header!.Source);
        Assert.Equal(16, header.Length);
    }

    [Fact]
    public void V2_LocalSkipsAddressBlock()
    {
        var status = Parse(V2(0, 0x11, Inet4Block("192.0.2.7", "198.51.100.1", 1, 25)), out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Null(header!.Source);
        Assert.Equal(28, header.Length);
    }

    [Fact]
    public void V2_UnspecifiedFamilyHasNoSource()
    {
        var status = Parse(V2(1, 0x00, []), out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Null(header!.Source);
    }

    [Fact]
    public void V2_EveryTruncationIsIncomplete()
    {
        byte[] input = V2(1, 0x11, Inet4Block("192.0.2.7", "198.51.100.1", 56324, 25));

        for (int length = 1; length < input.Length; length++)
        {
            var status = Parse(input[..length], out _, out _);

            Assert.True(status == ProxyParseStatus.Incomplete, $"{length} of {input.Length} bytes: {status}");
        }
    }

    [Theory]
    [InlineData(0x10, 0x11)]
    [InlineData(0x30, 0x11)]
    [InlineData(0x22, 0x11)]
    [InlineData(0x2F, 0x11)]
    [InlineData(0x21, 0x41)]
    [InlineData(0x21, 0x13)]
    [InlineData(0x21, 0x12)]
    public void V2_BadVersionCommandOrFamilyIsInvalid(byte versionAndCommand, byte familyAndTransport)
    {
        byte[] input = V2(1, familyAndTransport, Inet4Block("192.0.2.7", "198.51.100.1", 1, 25));
        input[12] = versionAndCommand;

        var status = Parse(input, out _, out string error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.NotEmpty(error);
    }

    [Fact]
    public void V2_LengthShorterThanAddressIsInvalid()
    {
        byte[] input = V2(1, 0x21, Inet4Block("192.0.2.7", "198.51.100.1", 1, 25));

        var status = Parse(input, out _, out string error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Contains("shorter", error);
    }

    [Fact]
    public void V2_DeclaredLengthBeyondInputIsIncomplete()
    {
        byte[] input = V2(1, 0x11, Inet4Block("192.0.2.7", "198.51.100.1", 1, 25), declaredLength: 2000);

        var status = Parse(input, out _, out _);

        Assert.Equal(ProxyParseStatus.Incomplete, status);
    }

    [Fact]
    public void V2_SplitAcrossSegmentsParses()
    {
        byte[] input = V2(1, 0x11, Inet4Block("192.0.2.7", "198.51.100.1", 56324, 25));
        var sequence = SegmentedSequence.Create(input, 5, 13, 17);

        var status = ProxyProtocolParser.TryParse(sequence, out var header, out _);

        Assert.Equal(ProxyParseStatus.Success, status);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), header!.Source!.Address);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 1 25\r\n", ProxyParseStatus.Success)]
    [InlineData("PROX", ProxyParseStatus.Incomplete)]
    [InlineData("\r\n\r\n", ProxyParseStatus.Incomplete)]
    [InlineData("", ProxyParseStatus.Incomplete)]
    [InlineData("EHLO client.example\r\n", ProxyParseStatus.Invalid)]
    [InlineData("\r\nEHLO", ProxyParseStatus.Invalid)]
    [InlineData("PROXY\r\n", ProxyParseStatus.Invalid)]
    public void Detect_RecognisesHeaderStart(string input, ProxyParseStatus expected)
    {
        var status = ProxyProtocolParser.Detect(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(input)));

        Assert.Equal(expected, status);
    }

    [Fact]
    public void Detect_RecognisesV2Signature()
    {
        var status = ProxyProtocolParser.Detect(new ReadOnlySequence<byte>(Signature));

        Assert.Equal(ProxyParseStatus.Success, status);
    }
}

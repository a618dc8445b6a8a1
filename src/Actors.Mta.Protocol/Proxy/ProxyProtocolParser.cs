using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.Protocol.Proxy;

/// <summary>Outcome of <see cref="ProxyProtocolParser.TryParse"/>.</summary>
public enum ProxyParseStatus
{
    /// <summary>The input so far is a valid beginning of a header; read more bytes.</summary>
    Incomplete,

    /// <summary>A complete, valid header.</summary>
    Success,

    /// <summary>The input is not a valid PROXY header.</summary>
    Invalid,
}

/// <summary>
/// A PROXY protocol header (HAProxy's "PROXY protocol" specification, versions 1 and 2).
/// </summary>
/// <param name="Version">1 for the text form, 2 for the binary form.</param>
/// <param name="Source">
/// The original client's address and port, or null when the header carries none: a version 2 LOCAL
/// command (the proxy's own connection, a health check for example), a version 1 "UNKNOWN" line, or a
/// version 2 header for an unspecified or UNIX-socket family. The specification asks the receiver to use
/// the connection's real endpoints in those cases.
/// </param>
/// <param name="Destination">The address the client connected to on the proxy, or null as for <paramref name="Source"/>.</param>
/// <param name="Length">Length of the header in bytes; the client's own bytes follow it.</param>
public sealed record ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination, int Length);

/// <summary>
/// Parses the PROXY protocol header that a load balancer such as HAProxy sends before the client's bytes.
/// Version 1 is one text line of at most 107 bytes, CRLF included ("PROXY TCP4 192.0.2.1 198.51.100.1
/// 56324 25\r\n"); version 2 starts with a fixed 12-byte signature followed by a binary block. Parsing
/// never throws.
/// </summary>
public static class ProxyProtocolParser
{
    /// <summary>Longest version 1 header, "PROXY " to CRLF inclusive, as the specification fixes it.</summary>
    public const int MaxV1Length = 107;

    /// <summary>Length of the fixed part of a version 2 header: signature, version and command, family, length.</summary>
    public const int V2FixedLength = 16;

    private static readonly byte[] V1Prefix = "PROXY "u8.ToArray();

    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Tells whether <paramref name="input"/> starts like a PROXY header of either version:
    /// <see cref="ProxyParseStatus.Success"/> when it carries the version 1 prefix or the version 2 signature,
    /// <see cref="ProxyParseStatus.Incomplete"/> when it is a strict prefix of one of them, and
    /// <see cref="ProxyParseStatus.Invalid"/> otherwise. A server that expects no header uses this to
    /// recognise one sent by a proxy it does not trust.
    /// </summary>
    public static ProxyParseStatus Detect(ReadOnlySequence<byte> input)
    {
        Span<byte> start = stackalloc byte[V2Signature.Length];
        int length = (int)Math.Min(input.Length, start.Length);
        input.Slice(0, length).CopyTo(start);
        start = start[..length];

        ProxyParseStatus v1 = MatchPrefix(start, V1Prefix);
        ProxyParseStatus v2 = MatchPrefix(start, V2Signature);
        if (v1 == ProxyParseStatus.Success || v2 == ProxyParseStatus.Success)
        {
            return ProxyParseStatus.Success;
        }

        return v1 == ProxyParseStatus.Incomplete || v2 == ProxyParseStatus.Incomplete
            ? ProxyParseStatus.Incomplete
            : ProxyParseStatus.Invalid;
    }

    /// <summary>
    /// Parses the header at the start of <paramref name="input"/>. On <see cref="ProxyParseStatus.Success"/>,
    /// <paramref name="header"/> is set and its <see cref="ProxyHeader.Length"/> tells where the client's bytes
    /// begin; on <see cref="ProxyParseStatus.Invalid"/>, <paramref name="error"/> says why.
    /// </summary>
    public static ProxyParseStatus TryParse(ReadOnlySequence<byte> input, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        var kind = Detect(input);
        if (kind == ProxyParseStatus.Incomplete)
        {
            return ProxyParseStatus.Incomplete;
        }

        if (kind == ProxyParseStatus.Invalid)
        {
            error = "no PROXY protocol signature";
            return ProxyParseStatus.Invalid;
        }

        Span<byte> first = stackalloc byte[1];
        input.Slice(0, 1).CopyTo(first);
        return first[0] == V1Prefix[0]
            ? ParseV1(input, out header, out error)
            : ParseV2(input, out header, out error);
    }

    private static ProxyParseStatus MatchPrefix(ReadOnlySpan<byte> start, ReadOnlySpan<byte> prefix)
    {
        int common = Math.Min(start.Length, prefix.Length);
        if (!start[..common].SequenceEqual(prefix[..common]))
        {
            return ProxyParseStatus.Invalid;
        }

        return start.Length >= prefix.Length ? ProxyParseStatus.Success : ProxyParseStatus.Incomplete;
    }

    private static ProxyParseStatus ParseV1(ReadOnlySequence<byte> input, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        var window = input.Slice(0, Math.Min(input.Length, MaxV1Length));
        SequencePosition? lf = window.PositionOf((byte)'\n');
        if (lf is null)
        {
            if (window.Length >= MaxV1Length)
            {
                error = $"version 1 header longer than {MaxV1Length} bytes";
                return ProxyParseStatus.Invalid;
            }

            return ProxyParseStatus.Incomplete;
        }

        byte[] line = window.Slice(0, lf.Value).ToArray();
        int length = line.Length + 1;
        if (line.Length == 0 || line[^1] != (byte)'\r')
        {
            error = "version 1 header does not end with CRLF";
            return ProxyParseStatus.Invalid;
        }

        // Only printable US-ASCII may appear before the CRLF.
        ReadOnlySpan<byte> text = line.AsSpan(0, line.Length - 1);
        foreach (byte b in text)
        {
            if (b is < 0x20 or > 0x7E)
            {
                error = "version 1 header contains a control or non-ASCII byte";
                return ProxyParseStatus.Invalid;
            }
        }

        string[] fields = Encoding.ASCII.GetString(text).Split(' ');
        if (fields.Length >= 2 && fields[1] == "UNKNOWN")
        {
            // The specification lets the sender put anything after UNKNOWN; the receiver ignores it.
            header = new ProxyHeader(1, null, null, length);
            return ProxyParseStatus.Success;
        }

        if (fields.Length != 6)
        {
            error = "version 1 header must have 6 fields separated by single spaces";
            return ProxyParseStatus.Invalid;
        }

        AddressFamily family;
        switch (fields[1])
        {
            case "TCP4":
                family = AddressFamily.InterNetwork;
                break;
            case "TCP6":
                family = AddressFamily.InterNetworkV6;
                break;
            default:
                error = $"version 1 header has unknown protocol \"{fields[1]}\", expected TCP4, TCP6 or UNKNOWN";
                return ProxyParseStatus.Invalid;
        }

        if (!TryParseAddress(fields[2], family, out var source) || !TryParseAddress(fields[3], family, out var destination))
        {
            error = $"version 1 header has an invalid {fields[1]} address";
            return ProxyParseStatus.Invalid;
        }

        if (!TryParsePort(fields[4], out int sourcePort) || !TryParsePort(fields[5], out int destinationPort))
        {
            error = "version 1 header has an invalid port, expected 0 to 65535";
            return ProxyParseStatus.Invalid;
        }

        header = new ProxyHeader(1, new IPEndPoint(source!, sourcePort), new IPEndPoint(destination!, destinationPort), length);
        return ProxyParseStatus.Success;
    }

    // IPAddress.TryParse accepts forms the specification does not ("1", "0x7f.1", scope ids), so IPv4 must be
    // four decimal octets and IPv6 may hold only hex digits, colons and an embedded dotted IPv4 part.
    private static bool TryParseAddress(string text, AddressFamily family, out IPAddress? address)
    {
        address = null;
        if (family == AddressFamily.InterNetwork)
        {
            string[] octets = text.Split('.');
            if (octets.Length != 4 || octets.Any(o => o.Length is 0 or > 3 || !o.All(char.IsAsciiDigit) || (o.Length > 1 && o[0] == '0') || int.Parse(o) > 255))
            {
                return false;
            }
        }
        else if (text.Length == 0 || !text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.'))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address) && address.AddressFamily == family;
    }

    private static bool TryParsePort(string text, out int port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit) || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        port = int.Parse(text);
        return port <= 65535;
    }

    private static ProxyParseStatus ParseV2(ReadOnlySequence<byte> input, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        if (input.Length < V2FixedLength)
        {
            return ProxyParseStatus.Incomplete;
        }

        Span<byte> fixedPart = stackalloc byte[V2FixedLength];
        input.Slice(0, V2FixedLength).CopyTo(fixedPart);
        int version = fixedPart[12] >> 4;
        int command = fixedPart[12] & 0x0F;
        int family = fixedPart[13] >> 4;
        int transport = fixedPart[13] & 0x0F;
        int blockLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (version != 2)
        {
            error = $"version 2 signature with version nibble {version}";
            return ProxyParseStatus.Invalid;
        }

        if (command > 1)
        {
            error = $"version 2 header has unknown command {command}, expected 0 (LOCAL) or 1 (PROXY)";
            return ProxyParseStatus.Invalid;
        }

        if (family > 3 || transport > 2)
        {
            error = $"version 2 header has unknown address family {family} or transport {transport}";
            return ProxyParseStatus.Invalid;
        }

        int addressLength = family switch
        {
            1 => 12,
            2 => 36,
            3 => 216,
            _ => 0,
        };
        if (command == 1 && blockLength < addressLength)
        {
            error = $"version 2 header length {blockLength} is shorter than its address block ({addressLength} bytes)";
            return ProxyParseStatus.Invalid;
        }

        int length = V2FixedLength + blockLength;
        if (input.Length < length)
        {
            return ProxyParseStatus.Incomplete;
        }

        // LOCAL: the proxy's own connection; the address block, if any, is ignored. The same holds for a
        // family with no IP address (unspecified, UNIX socket); the type-length-value records after the
        // address block are optional and ignored.
        if (command == 0 || family is 0 or 3)
        {
            header = new ProxyHeader(2, null, null, length);
            return ProxyParseStatus.Success;
        }

        if (transport != 1)
        {
            error = "version 2 header is not for a TCP (stream) connection";
            return ProxyParseStatus.Invalid;
        }

        byte[] block = input.Slice(V2FixedLength, addressLength).ToArray();
        int addressSize = family == 1 ? 4 : 16;
        var source = new IPAddress(block.AsSpan(0, addressSize));
        var destination = new IPAddress(block.AsSpan(addressSize, addressSize));
        int sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(2 * addressSize));
        int destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(2 * addressSize + 2));
        header = new ProxyHeader(2, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), length);
        return ProxyParseStatus.Success;
    }
}

using System.Buffers;
using System.Text;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Proxy;
using Actors.Mta.Protocol.Smtp;
using Actors.Mta.Protocol.Tests.Smtp;

namespace Actors.Mta.Protocol.Tests.Fuzz;

/// <summary>
/// Random and mutated inputs for every parser that reads client bytes: the command parser, the path and address
/// parsers, the DATA reader and the PROXY header parser. None may throw, and each keeps its own invariants. The
/// seed is fixed, so a failure repeats; the message shows the input. ACTORS_MTA_FUZZ_CASES sets the number of
/// inputs per parser (default 250000, one million in all, which runs in seconds).
/// </summary>
public sealed class ParserFuzzTests
{
    private const int Seed = 25;

    private static readonly int CaseCount =
        int.TryParse(Environment.GetEnvironmentVariable("ACTORS_MTA_FUZZ_CASES"), out int cases) && cases > 0 ? cases : 250_000;

    private static readonly string[] CommandSeeds =
    [
        "EHLO client.example", "HELO client.example", "MAIL FROM:<sender@example.net> SIZE=1000 BODY=8BITMIME",
        "MAIL FROM:<> SMTPUTF8", "RCPT TO:<alice@example.com>", "RCPT TO:<@a.example,@b.example:user@example.com>",
        "RCPT TO:<\"quoted@local\"@example.com>", "RCPT TO:<user@[127.0.0.1]>", "RCPT TO:<user@[IPv6:2001:db8::1]>",
        "RCPT TO:<Postmaster>", "RCPT TO:<josé@bücher.example>", "DATA", "BDAT 100 LAST", "RSET", "NOOP", "QUIT",
        "VRFY alice", "STARTTLS", "AUTH PLAIN", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25",
    ];

    private static readonly string[] PathSeeds =
    [
        "<alice@example.com>", "<>", "<Postmaster>", "<@a.example,@b.example:user@example.com>", "<\"a b\\\"c\"@example.com>",
        "<user@[192.0.2.1]>", "<user@[IPv6:2001:db8::1]>", "<user@[IPv6:::ffff:192.0.2.1]>", "<josé@bücher.example>",
        "<user%other@example.com>", "<a.b.c@sub.example.com>", "<x@xn--bcher-kva.example>",
    ];

    private static readonly string[] DataSeeds =
    [
        "Subject: a\r\n\r\nbody\r\n.\r\n", "..stuffed\r\n.\r\n", "bare\n.\nMAIL FROM:<x@y>\r\n.\r\n", "\r\n.\r\n", ".\r\n",
        "a\r.\rb\r\n.\r\n", "NUL\0byte\r\n.\r\n", "line\r\n..\r\n...\r\n.\r\nQUIT\r\n",
    ];

    // Bytes that matter to the grammars: line endings, NUL, brackets, quoting, route and literal syntax, UTF-8 lead and continuation bytes.
    private static readonly byte[] Interesting =
        "\r\n\0.<>@\"\\:,%[] =-+/ABZaz09"u8.ToArray().Concat(new byte[] { 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF }).ToArray();

    private static readonly byte[][] ProxySeeds =
    [
        "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n"u8.ToArray(),
        "PROXY TCP6 2001:db8::7 2001:db8::1 1 25\r\n"u8.ToArray(),
        "PROXY UNKNOWN\r\n"u8.ToArray(),
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
            192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x00, 0x19],
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00],
    ];

    /// <summary>Yields <see cref="CaseCount"/> inputs: mutations of the seeds, and now and then plain random bytes.</summary>
    private static IEnumerable<byte[]> Inputs(Random random, byte[][] seeds)
    {
        for (int i = 0; i < CaseCount; i++)
        {
            if (random.Next(8) == 0)
            {
                var bytes = new byte[random.Next(64)];
                for (int j = 0; j < bytes.Length; j++)
                {
                    bytes[j] = random.Next(2) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
                }

                yield return bytes;
                continue;
            }

            yield return Mutate(random, seeds[random.Next(seeds.Length)], seeds);
        }
    }

    /// <summary>Applies one to four random edits: replace, insert, delete, duplicate, truncate or splice with another seed.</summary>
    public static byte[] Mutate(Random random, byte[] seed, byte[][] seeds)
    {
        var bytes = new List<byte>(seed);
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int position = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            byte value = random.Next(3) == 0 ? (byte)random.Next(256) : Interesting[random.Next(Interesting.Length)];
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[position] = value;
                    break;
                case 1:
                    bytes.Insert(position, value);
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveAt(position);
                    break;
                case 3 when bytes.Count > 0:
                    int length = random.Next(Math.Min(8, bytes.Count - position)) + 1;
                    bytes.InsertRange(position, bytes.GetRange(position, length));
                    break;
                case 4:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                default:
                    byte[] other = seeds[random.Next(seeds.Length)];
                    int from = random.Next(other.Length + 1);
                    bytes.InsertRange(position, other[from..]);
                    break;
            }
        }

        return bytes.ToArray();
    }

    private static byte[][] Bytes(IEnumerable<string> seeds) => seeds.Select(s => Encoding.UTF8.GetBytes(s)).ToArray();

    private static string Show(byte[] input) => DataReaderHarness.Escape(input) + $" (hex {Convert.ToHexString(input)})";

    [Fact]
    public void CommandParser_NeverThrows()
    {
        var random = new Random(Seed);
        foreach (byte[] input in Inputs(random, Bytes(CommandSeeds)))
        {
            SmtpCommand command;
            try
            {
                command = SmtpCommandParser.Parse(input);
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"Parse threw {ex.GetType().Name} for {Show(input)}: {ex.Message}");
            }

            Assert.True(Enum.IsDefined(command.Verb), $"verb {command.Verb} for {Show(input)}");
            Assert.True(command.IsValidUtf8 || command.Argument.Length == 0, $"invalid UTF-8 with an argument for {Show(input)}");
        }
    }

    [Fact]
    public void PathParsers_NeverThrowAndKeepLimits()
    {
        var random = new Random(Seed + 1);
        var seeds = Bytes(PathSeeds.SelectMany(p => new[] { "FROM:" + p, "TO:" + p + " SIZE=10 NOTIFY=NEVER" }));
        foreach (byte[] input in Inputs(random, seeds))
        {
            foreach (string text in new[] { Encoding.UTF8.GetString(input), Encoding.Latin1.GetString(input) })
            {
                try
                {
                    CheckPath(text);
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    throw new Xunit.Sdk.XunitException($"threw {ex.GetType().Name} for {Show(input)}: {ex}");
                }
            }
        }
    }

    private static void CheckPath(string text)
    {
        foreach (string prefix in new[] { "FROM:", "TO:" })
        {
            if (!PathArgument.TryParse(text, prefix, out var argument, out _))
            {
                continue;
            }

            foreach (bool utf8 in new[] { false, true })
            {
                var forward = AddressParser.ParseForwardPath(argument.Path, utf8);
                var reverse = AddressParser.ParseReversePath(argument.Path, utf8);
                foreach (var result in new[] { forward, reverse })
                {
                    if (result is { Success: true, Mailbox: { } mailbox })
                    {
                        Assert.True(Encoding.UTF8.GetByteCount(argument.Path) <= AddressParser.MaxPathOctets, $"path too long accepted: {argument.Path}");
                        Assert.False(mailbox.Address.Any(char.IsControl), $"control character accepted: {argument.Path}");
                        Assert.True(utf8 || Ascii.IsValid(mailbox.Address), $"non-ASCII accepted without SMTPUTF8: {argument.Path}");
                    }
                }
            }
        }
    }

    [Fact]
    public void DataReader_NeverThrowsAndEndsOnlyAtCrlfDotCrlf()
    {
        var random = new Random(Seed + 2);
        foreach (byte[] input in Inputs(random, Bytes(DataSeeds)))
        {
            var policy = random.Next(2) == 0 ? BareLineEndingPolicy.Reject : BareLineEndingPolicy.Normalize;
            var reader = new DataReader(64, policy, allowNul: random.Next(2) == 0, maxLineLength: 1 + random.Next(40));
            var output = new ArrayBufferWriter<byte>();
            int split = random.Next(input.Length + 1);

            long consumed = reader.Read(input.AsSpan(0, split), output);
            if (!reader.IsCompleted)
            {
                consumed += reader.Read(input.AsSpan((int)consumed), output);
            }

            Assert.True(consumed <= input.Length, $"consumed {consumed} of {Show(input)}");
            Assert.True(output.WrittenCount <= 64, $"wrote {output.WrittenCount} bytes past the 64-byte limit for {Show(input)}");
            if (reader.IsCompleted)
            {
                var end = input.AsSpan(0, (int)consumed);
                bool endsAtTerminator = end.EndsWith("\r\n.\r\n"u8) || (consumed == 3 && end.SequenceEqual(".\r\n"u8));
                Assert.True(endsAtTerminator, $"completed after {consumed} bytes of {Show(input)}");
            }
        }
    }

    [Fact]
    public void ProxyParser_NeverThrowsAndStaysInBounds()
    {
        var random = new Random(Seed + 3);
        foreach (byte[] input in Inputs(random, ProxySeeds))
        {
            var sequence = input.Length > 2
                ? SegmentedSequence.Create(input, random.Next(1, input.Length))
                : new ReadOnlySequence<byte>(input);
            var status = ProxyProtocolParser.TryParse(sequence, out var header, out string error);
            var detected = ProxyProtocolParser.Detect(sequence);

            if (status == ProxyParseStatus.Success)
            {
                Assert.True(header!.Length <= input.Length, $"header length {header.Length} for {Show(input)}");
                Assert.True(header.Version == 2 || header.Length <= ProxyProtocolParser.MaxV1Length, $"v1 header of {header.Length} bytes for {Show(input)}");
                Assert.Equal(ProxyParseStatus.Success, detected);
            }

            Assert.True(status != ProxyParseStatus.Invalid || error.Length > 0, $"invalid without a reason for {Show(input)}");
        }
    }
}

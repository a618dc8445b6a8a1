using Actors.Mta.Protocol.Addresses;
using BenchmarkDotNet.Attributes;

namespace Actors.Mta.Benchmarks;

/// <summary>Cost of parsing one path, by the kind of address a client may send.</summary>
[MemoryDiagnoser]
public class AddressParserBenchmarks
{
    // Each case must take the success path, or the benchmark would time an early rejection.
    [GlobalSetup]
    public void CheckInputsParse()
    {
        PathParseResult[] results =
        [
            ReversePathPlain(), ForwardPathPlain(), ForwardPathQuotedLocalPart(), ForwardPathUtf8(), ForwardPathIpv6Literal(),
        ];
        foreach (PathParseResult result in results)
        {
            if (!result.Success)
            {
                throw new InvalidOperationException($"Benchmark input was rejected: {result.Error}");
            }
        }
    }

    [Benchmark]
    public PathParseResult ReversePathPlain() =>
        AddressParser.ParseReversePath("<user@example.com>", allowUtf8: false);

    [Benchmark]
    public PathParseResult ForwardPathPlain() =>
        AddressParser.ParseForwardPath("<alice@example.com>", allowUtf8: false);

    [Benchmark]
    public PathParseResult ForwardPathQuotedLocalPart() =>
        AddressParser.ParseForwardPath("<\"john \\\"jd\\\" doe\"@example.com>", allowUtf8: false);

    [Benchmark]
    public PathParseResult ForwardPathUtf8() =>
        AddressParser.ParseForwardPath("<用户@例子.广告>", allowUtf8: true);

    [Benchmark]
    public PathParseResult ForwardPathIpv6Literal() =>
        AddressParser.ParseForwardPath("<postmaster@[IPv6:2001:db8::1]>", allowUtf8: false);
}

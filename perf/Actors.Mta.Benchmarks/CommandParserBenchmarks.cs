using System.Text;
using Actors.Mta.Protocol.Smtp;
using BenchmarkDotNet.Attributes;

namespace Actors.Mta.Benchmarks;

/// <summary>
/// Cost of splitting one command line into verb and argument, and of splitting a MAIL or RCPT argument
/// into its path and ESMTP parameters. The lines are the commands a typical client sends per message.
/// </summary>
[MemoryDiagnoser]
public class CommandParserBenchmarks
{
    private static readonly byte[] MailLine = Encoding.ASCII.GetBytes("MAIL FROM:<user@example.com> SIZE=5120 BODY=8BITMIME");
    private static readonly byte[] RcptLine = Encoding.ASCII.GetBytes("RCPT TO:<alice@example.com>");
    private static readonly byte[] NoopLine = Encoding.ASCII.GetBytes("NOOP");
    private static readonly byte[] EhloLine = Encoding.ASCII.GetBytes("EHLO mx.example.org");

    private const string MailArgument = "FROM:<user@example.com> SIZE=5120 BODY=8BITMIME";
    private const string RcptArgument = "TO:<alice@example.com>";

    // Each case must take the success path, or the benchmark would time an early rejection.
    [GlobalSetup]
    public void CheckInputsParse()
    {
        if (ParseMail().Verb != SmtpVerb.Mail || ParseRcpt().Verb != SmtpVerb.Rcpt || ParseNoop().Verb != SmtpVerb.Noop || ParseEhlo().Verb != SmtpVerb.Ehlo)
        {
            throw new InvalidOperationException("A benchmark command line was not parsed to its verb.");
        }

        if (SplitMailArgument() is null || SplitRcptArgument() is null)
        {
            throw new InvalidOperationException("A benchmark MAIL or RCPT argument was rejected.");
        }
    }

    [Benchmark]
    public SmtpCommand ParseMail() => SmtpCommandParser.Parse(MailLine);

    [Benchmark]
    public SmtpCommand ParseRcpt() => SmtpCommandParser.Parse(RcptLine);

    [Benchmark]
    public SmtpCommand ParseNoop() => SmtpCommandParser.Parse(NoopLine);

    [Benchmark]
    public SmtpCommand ParseEhlo() => SmtpCommandParser.Parse(EhloLine);

    [Benchmark]
    public PathArgument? SplitMailArgument()
    {
        PathArgument.TryParse(MailArgument, "FROM:", out PathArgument? result, out _);
        return result;
    }

    [Benchmark]
    public PathArgument? SplitRcptArgument()
    {
        PathArgument.TryParse(RcptArgument, "TO:", out PathArgument? result, out _);
        return result;
    }
}

using System.Text;
using Actors.Mta.Protocol.Smtp;
using BenchmarkDotNet.Attributes;

namespace Actors.Mta.Benchmarks;

/// <summary>
/// Cost of splitting one command line into verb and argument and decoding the argument into a stack buffer, and of
/// splitting a MAIL or RCPT argument into its path and ESMTP parameters. The lines are the commands a typical client
/// sends per message.
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
        if (SmtpCommandParser.Parse(MailLine).Verb != SmtpVerb.Mail || SmtpCommandParser.Parse(RcptLine).Verb != SmtpVerb.Rcpt
            || SmtpCommandParser.Parse(NoopLine).Verb != SmtpVerb.Noop || SmtpCommandParser.Parse(EhloLine).Verb != SmtpVerb.Ehlo)
        {
            throw new InvalidOperationException("A benchmark command line was not parsed to its verb.");
        }

        if (SplitMailArgument() != 2 || SplitRcptArgument() != 0)
        {
            throw new InvalidOperationException("A benchmark MAIL or RCPT argument was rejected.");
        }
    }

    [Benchmark]
    public int ParseMail() => ParseAndDecode(MailLine);

    [Benchmark]
    public int ParseRcpt() => ParseAndDecode(RcptLine);

    [Benchmark]
    public int ParseNoop() => ParseAndDecode(NoopLine);

    [Benchmark]
    public int ParseEhlo() => ParseAndDecode(EhloLine);

    /// <summary>Returns the number of parameters, or -1 when the argument is rejected.</summary>
    [Benchmark]
    public int SplitMailArgument() => SplitArgument(MailArgument, "FROM:");

    /// <summary>Returns the number of parameters, or -1 when the argument is rejected.</summary>
    [Benchmark]
    public int SplitRcptArgument() => SplitArgument(RcptArgument, "TO:");

    // The session decodes every argument the same way before it dispatches on the verb.
    private static int ParseAndDecode(byte[] line)
    {
        Span<char> buffer = stackalloc char[512];
        SmtpCommand command = SmtpCommandParser.Parse(line);
        return (int)command.Verb + command.DecodeArgument(buffer).Length;
    }

    // Reads every keyword the way the session's parameter checks do.
    private static int SplitArgument(string argument, string prefix)
    {
        if (!PathArgument.TryParse(argument, prefix, out PathArgument result, out _))
        {
            return -1;
        }

        int count = 0;
        foreach (EsmtpParameter parameter in result.Parameters)
        {
            count += parameter.GetKeyword().Length > 0 ? 1 : 0;
        }

        return count;
    }
}

using System.Text;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Addresses;
using Akka.Actor;
using Akka.Configuration;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Delivery;

/// <summary>
/// <see cref="PipeDestination"/> against /bin/sh scripts that the tests write to a temp directory. The scripts
/// themselves use a shell; the destination starts them directly, without one.
/// </summary>
public sealed class PipeDestinationTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _temp = new();

    public PipeDestinationTests(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString(TestConfig.ActorSystemConfig), output: output)
    {
    }

    private static Mailbox Sender => new("sender", "example.org");

    private static Mailbox Alice => new("alice", "example.com");

    private static Mailbox Bob => new("bob", "example.net");

    [Fact]
    public void Pipe_Exit0_RepliesDelivered()
    {
        string script = Script("exit 0");

        var results = Deliver(Pipe(script), "Q1", [Alice]);

        Assert.Equal(250, results[0].Reply.Code);
        Assert.Equal("2.0.0", results[0].Reply.EnhancedCode);
        Assert.Equal(Alice, results[0].Recipient);
    }

    [Fact]
    public void Pipe_Exit75_RepliesDeferred()
    {
        string script = Script("exit 75");

        var reply = Deliver(Pipe(script), "Q1", [Alice])[0].Reply;

        Assert.Equal(451, reply.Code);
        Assert.Equal("4.3.0", reply.EnhancedCode);
    }

    [Fact]
    public void Pipe_Exit67_RepliesBounced()
    {
        string script = Script("exit 67");

        var reply = Deliver(Pipe(script), "Q1", [Alice])[0].Reply;

        Assert.Equal(550, reply.Code);
        Assert.Equal("5.3.0", reply.EnhancedCode);
        Assert.Contains("67", reply.Lines[0]);
    }

    [Fact]
    public void Pipe_KilledBySignal_RepliesDeferred()
    {
        string script = Script("kill -9 $$");

        var reply = Deliver(Pipe(script), "Q1", [Alice])[0].Reply;

        Assert.Equal(451, reply.Code);
        Assert.Contains("137", reply.Lines[0]);
    }

    [Fact]
    public void Pipe_Stdin_ReceivesExactBytes()
    {
        string copy = Path.Combine(_temp.Path, "stdin.eml");
        string script = Script($"cat > '{copy}'");
        byte[] message = MessageBytes(300_000);

        var reply = Deliver(Pipe(script), "Q1", [Alice], message)[0].Reply;

        Assert.Equal(250, reply.Code);
        Assert.Equal(message, File.ReadAllBytes(copy));
    }

    [Fact]
    public void Pipe_Timeout_KillsTreeAndDefers()
    {
        string pidFile = Path.Combine(_temp.Path, "child.pid");
        string script = Script($"sleep 60 &\necho $! > '{pidFile}'\nwait");
        var started = DateTime.UtcNow;

        var reply = Deliver(Pipe(script, timeout: TimeSpan.FromSeconds(1)), "Q1", [Alice])[0].Reply;

        Assert.Equal(451, reply.Code);
        Assert.Equal("4.4.7", reply.EnhancedCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "the reply came long after the timeout");
        int childPid = int.Parse(File.ReadAllText(pidFile).Trim());
        AwaitCondition(() => !IsRunning(childPid), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Pipe_ProgramMissing_RepliesDeferred()
    {
        var pipe = new Destination.Pipe([Path.Combine(_temp.Path, "missing")], 4, TimeSpan.FromSeconds(10));

        var reply = Deliver(pipe, "Q1", [Alice])[0].Reply;

        Assert.Equal(451, reply.Code);
        Assert.Equal("4.3.5", reply.EnhancedCode);
    }

    [Fact]
    public void Pipe_Environment_CleanWithEnvelope()
    {
        Environment.SetEnvironmentVariable("ACTORS_MTA_PIPE_TEST_SECRET", "secret");
        string envFile = Path.Combine(_temp.Path, "env");
        string script = Script($"/usr/bin/env > '{envFile}'");

        var reply = Deliver(PipeCommand(script, "${recipient}"), "Q7", [Alice])[0].Reply;

        Assert.Equal(250, reply.Code);
        var environment = ReadEnvironment(envFile);
        Assert.Equal("sender@example.org", environment.GetValueOrDefault("SENDER"));
        Assert.Equal("alice@example.com", environment.GetValueOrDefault("RECIPIENT"));
        Assert.Equal("Q7", environment.GetValueOrDefault("QUEUE_ID"));
        Assert.Equal("/usr/bin:/bin", environment.GetValueOrDefault("PATH"));
        Assert.DoesNotContain("RECIPIENTS", environment.Keys);
        Assert.DoesNotContain("ACTORS_MTA_PIPE_TEST_SECRET", environment.Keys);
        Assert.DoesNotContain("HOME", environment.Keys);
    }

    [Fact]
    public void Pipe_PerMessage_RunsOnceForAll()
    {
        string log = Path.Combine(_temp.Path, "runs");
        string script = Script($"echo \"$RECIPIENTS\" >> '{log}'\nexit 75");

        var results = Deliver(PipeCommand(script, "${sender}"), "Q1", [Alice, Bob]);

        Assert.Equal(["alice@example.com bob@example.net"], File.ReadAllLines(log));
        Assert.Equal([Alice, Bob], results.Select(r => r.Recipient));
        Assert.All(results, r => Assert.Equal(451, r.Reply.Code));
    }

    [Fact]
    public void Pipe_PerRecipient_RunsOncePerRecipient()
    {
        string script = Script("if [ \"$1\" = bob@example.net ]; then exit 67; fi\nexit 0");
        var carol = new Mailbox("carol", "example.com");

        var results = Deliver(PipeCommand(script, "${recipient}"), "Q1", [Alice, Bob, carol]);

        var codes = results.ToDictionary(r => r.Recipient.Address, r => r.Reply.Code);
        Assert.Equal(3, codes.Count);
        Assert.Equal(250, codes["alice@example.com"]);
        Assert.Equal(550, codes["bob@example.net"]);
        Assert.Equal(250, codes["carol@example.com"]);
    }

    [Fact]
    public void Pipe_Arguments_ExpandedWithoutShell()
    {
        string argsFile = Path.Combine(_temp.Path, "args");
        string marker = Path.Combine(_temp.Path, "marker");
        string script = Script($"printf '%s\\0' \"$@\" > '{argsFile}'");
        string[] arguments =
        [
            "${sender}", "--to=${recipient}", "a b; touch " + marker, "${local_part}", "${domain}", "${queue_id}",
            "$HOME `id` $(id) ${", "${local_part}+${domain}",
        ];

        var reply = Deliver(PipeCommand(script, arguments), "Q9", [Alice])[0].Reply;

        Assert.Equal(250, reply.Code);
        string[] expected =
        [
            "sender@example.org", "--to=alice@example.com", "a b; touch " + marker, "alice", "example.com", "Q9",
            "$HOME `id` $(id) ${", "alice+example.com",
        ];
        Assert.Equal(expected, ReadArguments(argsFile));
        Assert.False(File.Exists(marker), "a shell interpreted the ';' in an argument");
    }

    [Fact]
    public void Pipe_PlaceholderInValue_NotExpandedAgain()
    {
        string argsFile = Path.Combine(_temp.Path, "args");
        string script = Script($"printf '%s\\0' \"$@\" > '{argsFile}'");
        var sender = new Mailbox("\"${recipient}\"", "example.org");
        var pipe = PipeCommand(script, "${sender}", "${recipient}");

        var job = new DeliverToDestination("Q1", new MessageEnvelope(sender, [Alice], []), SpoolFile(MessageBytes(100)), TestActor);
        Sys.ActorOf(PipeDestination.Props(pipe)).Tell(job);
        var reply = ExpectMsg<DestinationResults>(Wait).Results[0].Reply;

        Assert.Equal(250, reply.Code);
        Assert.Equal(["\"${recipient}\"@example.org", "alice@example.com"], ReadArguments(argsFile));
    }

    [Fact]
    public void Pipe_NullSender_ExpandsToEmptyArgument()
    {
        string argsFile = Path.Combine(_temp.Path, "args");
        string script = Script($"printf '%s\\0' \"$@\" > '{argsFile}'");
        var job = new DeliverToDestination("Q1", new MessageEnvelope(null, [Alice], []), SpoolFile(MessageBytes(100)), TestActor);

        Sys.ActorOf(PipeDestination.Props(PipeCommand(script, "-f", "${sender}"))).Tell(job);
        var reply = ExpectMsg<DestinationResults>(Wait).Results[0].Reply;

        Assert.Equal(250, reply.Code);
        Assert.Equal(["-f", ""], ReadArguments(argsFile));
    }

    [Fact]
    public void Pipe_ConcurrencyLimit_MaxTwoRunning()
    {
        string times = _temp.Subdirectory("times");
        string script = Script($"date +%s%N > '{times}/'\"$QUEUE_ID\".start\nsleep 0.5\ndate +%s%N > '{times}/'\"$QUEUE_ID\".end");
        var destination = Sys.ActorOf(PipeDestination.Props(Pipe(script, maxConcurrency: 2)));
        string spool = SpoolFile(MessageBytes(100));

        for (int i = 0; i < 5; i++)
        {
            destination.Tell(new DeliverToDestination("Q" + i, new MessageEnvelope(Sender, [Alice], []), spool, TestActor));
        }

        var replies = Enumerable.Range(0, 5).Select(_ => ExpectMsg<DestinationResults>(Wait)).ToList();
        Assert.All(replies, r => Assert.Equal(250, r.Results[0].Reply.Code));
        var intervals = Enumerable.Range(0, 5)
            .Select(i => (Start: ReadTime(times, $"Q{i}.start"), End: ReadTime(times, $"Q{i}.end")))
            .ToList();
        int maxRunning = intervals.Max(a => intervals.Count(b => b.Start <= a.Start && a.Start < b.End));
        Assert.Equal(2, maxRunning);
    }

    [Fact]
    public void Pipe_ChattyProgram_DoesNotBlock()
    {
        string copy = Path.Combine(_temp.Path, "stdin.eml");
        string script = Script(
            "head -c 1048576 /dev/zero | tr '\\0' o\n" +
            "head -c 1048576 /dev/zero | tr '\\0' e >&2\n" +
            $"cat > '{copy}'");
        byte[] message = MessageBytes(1_000_000);

        var reply = Deliver(Pipe(script), "Q1", [Alice], message)[0].Reply;

        Assert.Equal(250, reply.Code);
        Assert.Equal(message, File.ReadAllBytes(copy));
    }

    [Fact]
    public void Pipe_Output_LoggedTruncated()
    {
        string script = Script("head -c 5000 /dev/zero | tr '\\0' o\necho line-one >&2\necho line-two >&2");
        var destination = Sys.ActorOf(PipeDestination.Props(Pipe(script)));
        var job = new DeliverToDestination("Q1", new MessageEnvelope(Sender, [Alice], []), SpoolFile(MessageBytes(100)), TestActor);
        // The Serilog formatter renders string values in double quotes.
        string expected = "stdout: \"" + new string('o', PipeRunner.OutputLimit) + "... (5000 bytes)\" stderr: \"line-one\\nline-two\"";

        EventFilter.Info(contains: expected).ExpectOne(Wait, () =>
        {
            destination.Tell(job);
            ExpectMsg<DestinationResults>(Wait);
        });
    }

    [Fact]
    public void Pipe_InputIgnored_StillDelivered()
    {
        string script = Script("exit 0");

        var reply = Deliver(Pipe(script), "Q1", [Alice], MessageBytes(2_000_000))[0].Reply;

        Assert.Equal(250, reply.Code);
    }

    [Fact]
    public void Pipe_BackgroundChildHoldsOutput_Delivered()
    {
        string pidFile = Path.Combine(_temp.Path, "child.pid");
        string script = Script($"sleep 30 &\necho $! > '{pidFile}'\nexit 0");
        var started = DateTime.UtcNow;
        try
        {
            var reply = Deliver(Pipe(script), "Q1", [Alice])[0].Reply;

            Assert.Equal(250, reply.Code);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the delivery waited for the background child");
        }
        finally
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid))
            {
                KillIfRunning(pid);
            }
        }
    }

    [Fact]
    public void PipeConfig_Valid_AppliesDefaults()
    {
        string script = Script("exit 0");

        var settings = LoadRoutes($"{{ domains = [\"*\"], destination = \"pipe\", command = [\"{script}\", \"-d\", \"${{recipient}}\"] }}");

        var pipe = Assert.IsType<Destination.Pipe>(settings.Routes[0].Destination);
        Assert.Equal([script, "-d", "${recipient}"], pipe.Command);
        Assert.Equal(4, pipe.MaxConcurrency);
        Assert.Equal(TimeSpan.FromMinutes(5), pipe.Timeout);
        Assert.True(pipe.PerRecipient);
    }

    [Fact]
    public void PipeConfig_Limits_Read()
    {
        string script = Script("exit 0");

        var settings = LoadRoutes($"{{ domains = [\"*\"], destination = \"pipe\", command = [\"{script}\"], max-concurrency = 12, timeout = 90s }}");

        var pipe = Assert.IsType<Destination.Pipe>(settings.Routes[0].Destination);
        Assert.Equal(12, pipe.MaxConcurrency);
        Assert.Equal(TimeSpan.FromSeconds(90), pipe.Timeout);
        Assert.False(pipe.PerRecipient);
    }

    [Theory]
    [InlineData("destination = \"pipe\"", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = []", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = \"{script}\"", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"bin/sh\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{missing}\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{temp}\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{plain}\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{script}\", \"${user}\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{script}\", \"${recipient\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], max-concurrency = 0", "actors-mta.routes[1].max-concurrency")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], max-concurrency = 1001", "actors-mta.routes[1].max-concurrency")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], max-concurrency = many", "actors-mta.routes[1].max-concurrency")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], timeout = 0s", "actors-mta.routes[1].timeout")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], timeout = 2h", "actors-mta.routes[1].timeout")]
    [InlineData("destination = \"pipe\", command = [\"{script}\"], timeout = soon", "actors-mta.routes[1].timeout")]
    [InlineData("destination = \"lmtp:/run/dovecot/lmtp\", command = [\"{script}\"]", "actors-mta.routes[1].command")]
    [InlineData("destination = \"lmtp:/run/dovecot/lmtp\", timeout = 5m", "actors-mta.routes[1].timeout")]
    public void PipeConfig_Invalid_NamesKey(string route, string expectedKey)
    {
        string plain = Path.Combine(_temp.Path, "plain");
        File.WriteAllText(plain, "not a program");
        string text = route
            .Replace("{script}", Script("exit 0"))
            .Replace("{missing}", Path.Combine(_temp.Path, "missing"))
            .Replace("{temp}", _temp.Path)
            .Replace("{plain}", plain);
        string routes = "{ domains = [\"example.org\"], destination = \"dev-sink:/tmp/sink\" }, { domains = [\"*\"], " + text + " }";

        var error = Assert.Throws<InvalidConfigurationException>(() => LoadRoutes(routes));

        Assert.Equal(expectedKey, error.Key);
    }

    [Fact]
    public void PipeConfig_SameCommandDifferentLimits_Rejected()
    {
        string script = Script("exit 0");
        string routes =
            $"{{ domains = [\"example.com\"], destination = \"pipe\", command = [\"{script}\"], max-concurrency = 2 }}, " +
            $"{{ domains = [\"*\"], destination = \"pipe\", command = [\"{script}\"], max-concurrency = 3 }}";

        var error = Assert.Throws<InvalidConfigurationException>(() => LoadRoutes(routes));

        Assert.Equal("actors-mta.routes", error.Key);
    }

    [Fact]
    public void PipeConfig_SameCommandSameLimits_Accepted()
    {
        string script = Script("exit 0");
        string routes =
            $"{{ domains = [\"example.com\"], destination = \"pipe\", command = [\"{script}\", \"a b\"] }}, " +
            $"{{ domains = [\"*\"], destination = \"pipe\", command = [\"{script}\", \"a b\"] }}";

        var settings = LoadRoutes(routes);

        Assert.Equal(settings.Routes[0].Destination, settings.Routes[1].Destination);
        Assert.Equal($"pipe:{script} \"a b\"", settings.Routes[0].Destination.Name);
    }

    private static MtaSettings LoadRoutes(string routes) =>
        TestConfig.Load($$"""
            actors-mta {
              accepted-domains = ["example.com", "example.org"]
              routes = [{{routes}}]
            }
            """);

    private static Destination.Pipe PipeCommand(string script, params string[] arguments) =>
        new([script, .. arguments], 4, TimeSpan.FromSeconds(30));

    private static Destination.Pipe Pipe(string script, int maxConcurrency = 4, TimeSpan? timeout = null) =>
        new([script], maxConcurrency, timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Runs one job through a new destination actor and returns its results.</summary>
    private IReadOnlyList<RecipientResult> Deliver(Destination.Pipe pipe, string queueId, Mailbox[] recipients, byte[]? message = null)
    {
        var destination = Sys.ActorOf(PipeDestination.Props(pipe));
        string spool = SpoolFile(message ?? MessageBytes(100));
        destination.Tell(new DeliverToDestination(queueId, new MessageEnvelope(Sender, recipients, []), spool, TestActor));
        var results = ExpectMsg<DestinationResults>(Wait);
        Assert.Equal(queueId, results.QueueId);
        return results.Results;
    }

    /// <summary>Writes an executable /bin/sh script with <paramref name="body"/> and returns its path.</summary>
    private string Script(string body)
    {
        string path = Path.Combine(_temp.Path, "script-" + Guid.NewGuid().ToString("N")[..8] + ".sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string SpoolFile(byte[] message)
    {
        string path = Path.Combine(_temp.Path, "spool-" + Guid.NewGuid().ToString("N")[..8] + ".eml");
        File.WriteAllBytes(path, message);
        return path;
    }

    /// <summary>A message of about <paramref name="size"/> bytes with CRLF, a bare LF, a lone dot, NUL and non-UTF-8 bytes.</summary>
    private static byte[] MessageBytes(int size)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes("Received: from test\r\nSubject: pipe test\r\n\r\n.\r\nbare\nline\r\n"));
        bytes.AddRange(new byte[] { 0x00, 0xFF, 0xFE, 0x0D, 0x0A });
        var random = new Random(42);
        while (bytes.Count < size)
        {
            bytes.Add((byte)random.Next(256));
        }

        return bytes.ToArray();
    }

    private static Dictionary<string, string> ReadEnvironment(string file) =>
        File.ReadAllLines(file)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1]);

    // The scripts write each argument followed by a NUL byte.
    private static string[] ReadArguments(string file) =>
        File.ReadAllText(file).Split('\0')[..^1];

    private static long ReadTime(string directory, string name) => long.Parse(File.ReadAllText(Path.Combine(directory, name)).Trim());

    // A process counts as running while /proc lists it in a state other than zombie.
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void KillIfRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _temp.Dispose();
        }
    }
}

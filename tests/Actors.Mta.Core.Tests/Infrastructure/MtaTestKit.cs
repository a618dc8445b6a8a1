using System.Text;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>
/// Base of the actor tests: an actor system, a temp spool directory, and sessions on <see cref="PipeTransport"/>s
/// whose delivery actor is a <see cref="TestProbe"/>.
/// </summary>
public abstract class MtaTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _temp = new();

    protected MtaTestKit(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString(TestConfig.ActorSystemConfig), output: output)
    {
        SpoolDirectory = _temp.Path + "/spool";
        Directory.CreateDirectory(Path.Combine(SpoolDirectory, "incoming"));
    }

    protected string SpoolDirectory { get; }

    protected string TempPath => _temp.Path;

    /// <summary>
    /// Settings for a session: server name mx.test, accepted domains example.com and example.org, the spool in
    /// the temp directory, then <paramref name="overrides"/> (keys under actors-mta).
    /// </summary>
    protected MtaSettings SessionSettings(string overrides = "")
    {
        string text = $$"""
            actors-mta {
              server-name = "mx.test"
              spool-directory = {{TestConfig.Quote(SpoolDirectory)}}
              accepted-domains = ["example.com", "example.org"]
              routes = [{ domains = ["*"], destination = {{TestConfig.Quote("dev-sink:" + _temp.Path + "/sink")}} }]
              {{overrides}}
            }
            """;
        return TestConfig.Load(text);
    }

    /// <summary>
    /// Starts a session on a new pipe transport, with <paramref name="delivery"/> as its delivery actor. Each
    /// session gets a supervisor of its own, so a session that throws is stopped as in the server.
    /// </summary>
    protected PipeTransport StartSession(MtaSettings settings, IActorRef delivery)
    {
        var transport = new PipeTransport();
        var supervisor = Sys.ActorOf(SessionSupervisor.Props(settings, delivery));
        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        return transport;
    }

    /// <summary>
    /// Creates a stand-in for the delivery manager. It replies to each RCPT-time <see cref="VerifyRecipient"/> at once,
    /// accepting the recipient unless <paramref name="reject"/> returns a rejection for its address, and keeps only the
    /// other messages in its queue. With <paramref name="deliveryReply"/> it also replies to every <see cref="DeliverMessage"/>
    /// with a report that gives each recipient that reply. Otherwise the test sends the report.
    /// </summary>
    protected TestProbe CreateDeliveryProbe(Func<string, SmtpReply?>? reject = null, SmtpReply? deliveryReply = null)
    {
        var probe = CreateTestProbe();
        probe.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            switch (message)
            {
                case VerifyRecipient verify:
                    sender.Tell(new RecipientVerified(verify.Recipient, reject?.Invoke(verify.Recipient.Address)));
                    break;
                case DeliverMessage deliver when deliveryReply is not null:
                    sender.Tell(Report(deliver, deliveryReply));
                    break;
            }

            return AutoPilot.KeepRunning;
        }));
        probe.IgnoreMessages(message => message is VerifyRecipient);
        return probe;
    }

    /// <summary>A report that gives every recipient of <paramref name="message"/> the replies in turn (the last one repeats).</summary>
    protected static DeliveryReport Report(DeliverMessage message, params SmtpReply[] replies)
    {
        var results = message.Envelope.Recipients
            .Select((recipient, i) => new RecipientResult(recipient, replies[Math.Min(i, replies.Length - 1)], "test"))
            .ToList();
        return new DeliveryReport(message.QueueId, results);
    }

    /// <summary>The message as stored, in memory or in a spool file, the Received header split off.</summary>
    protected static (string Received, string Body) ReadSpool(DeliverMessage message)
    {
        string text = Encoding.UTF8.GetString(message.Data.ReadAllBytes());
        var match = Regex.Match(text, @"\AReceived: [^\r\n]*(\r\n\t[^\r\n]*)*\r\n");
        return match.Success ? (match.Value, text[match.Length..]) : ("", text);
    }

    /// <summary>Replaces queue ids in reply lines, which differ from run to run.</summary>
    protected static IReadOnlyList<string> MaskQueueIds(IEnumerable<string> lines) =>
        lines.Select(line => Regex.Replace(line, @"delivered as \S+", "delivered as <id>")).ToList();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _temp.Dispose();
        }
    }
}

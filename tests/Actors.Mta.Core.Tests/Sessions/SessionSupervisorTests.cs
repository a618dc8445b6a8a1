using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Core.Tests.Infrastructure;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Sessions;

/// <summary>The session supervisor: a session that throws is stopped and its client told 421, the others go on.</summary>
public sealed class SessionSupervisorTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private const string Transaction =
        "EHLO client.example\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: t\r\n\r\nHi\r\n.\r\n";

    private async Task<int> SessionCountAsync(IActorRef supervisor) =>
        await supervisor.Ask<int>(SessionSupervisor.GetSessionCount.Instance, Wait);

    [Fact]
    public async Task Supervisor_NamesSessionsAndCountsThem()
    {
        var supervisor = Sys.ActorOf(SessionSupervisor.Props(SessionSettings(), CreateDeliveryProbe()), "sessions");
        var transports = Enumerable.Range(0, 3).Select(_ => new PipeTransport()).ToList();

        transports.ForEach(t => supervisor.Tell(new SessionSupervisor.StartSession(t)));
        foreach (var transport in transports)
        {
            await transport.Client.ReadReplyAsync();
        }

        var sessions = await Task.WhenAll(Enumerable.Range(1, 3).Select(i =>
            Sys.ActorSelection($"/user/sessions/session-{i:x6}").ResolveOne(Wait)));
        Assert.Equal(3, sessions.Distinct().Count());
        Assert.Equal(3, await SessionCountAsync(supervisor));
    }

    [Fact]
    public async Task CrashedSession_Gets421OthersContinue()
    {
        var delivery = CreateDeliveryProbe(deliveryReply: new SmtpReply(250, "2.0.0", "Saved"));
        var supervisor = Sys.ActorOf(SessionSupervisor.Props(SessionSettings(), delivery), "sessions");
        var transports = Enumerable.Range(0, 3).Select(_ => new PipeTransport()).ToList();
        transports.ForEach(t => supervisor.Tell(new SessionSupervisor.StartSession(t)));
        foreach (var transport in transports)
        {
            await transport.Client.ReadReplyAsync();
        }

        var victim = await Sys.ActorSelection("/user/sessions/session-000002").ResolveOne(Wait);
        Watch(victim);
        victim.Tell(new InjectFault("test"));
        var crashedLines = await transports[1].Client.ReadToEndAsync();
        ExpectTerminated(victim, Wait);

        var survivors = new[] { transports[0], transports[2] };
        foreach (var survivor in survivors)
        {
            await survivor.Client.SendAsync(Transaction);
        }

        var finals = new List<string>();
        foreach (var survivor in survivors)
        {
            finals.Add((await survivor.Client.ReadRepliesAsync(5))[^1]);
        }

        Assert.Single(crashedLines);
        Assert.StartsWith("421 4.3.0 ", crashedLines[0]);
        Assert.All(finals, reply => Assert.StartsWith("250 2.0.0 Ok: delivered as ", reply));
        Assert.Equal(2, await SessionCountAsync(supervisor));
    }

    [Fact]
    public async Task CrashedSession_DoesNotRestart()
    {
        var supervisor = Sys.ActorOf(SessionSupervisor.Props(SessionSettings(), CreateDeliveryProbe()), "sessions");
        var transport = new PipeTransport();
        supervisor.Tell(new SessionSupervisor.StartSession(transport));
        await transport.Client.ReadReplyAsync();

        var session = await Sys.ActorSelection("/user/sessions/session-*").ResolveOne(Wait);
        Watch(session);
        session.Tell(new InjectFault("test"));
        ExpectTerminated(session, Wait);
        await transport.Closed.WaitAsync(Wait);

        Assert.Equal(0, await SessionCountAsync(supervisor));
    }
}

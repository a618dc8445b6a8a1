using System.Text;
using Actors.Mta.LoadRunner.Smtp;

namespace Actors.Mta.LoadRunner.Scenarios;

/// <summary>What the built-in scenarios send: the EHLO name, the envelope, and whether to pipeline.</summary>
public sealed record SmtpScenarioSettings(string HeloName, string Sender, IReadOnlyList<string> Recipients, bool Pipelining);

/// <summary>The built-in scenarios: "send" delivers messages, "hold" opens sessions and keeps them idle.</summary>
public static class SmtpScenarios
{
    public const string SendName = "send";
    public const string HoldName = "hold";

    /// <summary>
    /// Connect (TCP connect and the 220 greeting), EHLO, then for each message MAIL, RCPT for each recipient, DATA
    /// and the message, and QUIT at the end. With pipelining (RFC 2920) and a server that offers it, MAIL, the
    /// RCPTs and DATA go out in one write and are timed together as the "envelope" step.
    /// </summary>
    public static Scenario Send(SmtpScenarioSettings settings)
    {
        if (settings.Recipients.Count == 0)
        {
            throw new ArgumentException("A message needs at least one recipient.", nameof(settings));
        }

        var commands = new Commands(settings);
        var transaction = new List<ScenarioStep>();
        if (settings.Pipelining)
        {
            transaction.Add(new ScenarioStep("envelope", context => SendEnvelopeAsync(context, commands)));
        }
        else
        {
            transaction.Add(new ScenarioStep("mail", context => MailAsync(context, commands.Mail)));
            for (var i = 0; i < commands.Recipients.Count; i++)
            {
                var rcpt = commands.Recipients[i];
                var isLast = i == commands.Recipients.Count - 1;
                transaction.Add(new ScenarioStep("rcpt", context => RcptAsync(context, rcpt, isLast)));
            }

            transaction.Add(new ScenarioStep("data", context => DataAsync(context, commands.Data)));
        }

        transaction.Add(new ScenarioStep("message", MessageAsync));
        return new Scenario(
            SendName,
            OpeningSteps: [new ScenarioStep("connect", ConnectAsync), new ScenarioStep("ehlo", context => EhloAsync(context, commands.Ehlo))],
            TransactionSteps: transaction,
            ClosingSteps: [new ScenarioStep("quit", context => QuitAsync(context, commands.Quit))],
            ResetStep: new ScenarioStep("rset", context => RsetAsync(context, commands.Rset)));
    }

    /// <summary>
    /// Connect and EHLO, then keep the session open and idle until the run stops, then QUIT: the cost of idle
    /// sessions to the server, and the time to greet many of them.
    /// </summary>
    public static Scenario Hold(SmtpScenarioSettings settings)
    {
        var commands = new Commands(settings);
        return new Scenario(
            HoldName,
            OpeningSteps: [new ScenarioStep("connect", ConnectAsync), new ScenarioStep("ehlo", context => EhloAsync(context, commands.Ehlo))],
            TransactionSteps: [],
            ClosingSteps:
            [
                new ScenarioStep("hold", HoldAsync, Recorded: false),
                new ScenarioStep("quit", context => QuitAsync(context, commands.Quit)),
            ],
            ResetStep: null);
    }

    private static async ValueTask<StepOutcome> ConnectAsync(SessionContext context)
    {
        context.Connection = await SmtpConnection.ConnectAsync(context.Target, context.ReplyTimeout, context.Abort);
        var greeting = await context.Connection.ReadReplyAsync();
        return greeting.Code == 220 ? StepOutcome.Success : StepOutcome.SessionFailed(FailureKeys.ForReply(greeting));
    }

    private static async ValueTask<StepOutcome> EhloAsync(SessionContext context, byte[] ehlo)
    {
        var reply = await context.RequireConnection().CommandAsync(ehlo, keepText: true);
        if (!reply.IsPositiveCompletion)
        {
            return StepOutcome.SessionFailed(FailureKeys.ForReply(reply));
        }

        context.PipeliningOffered = reply.HasKeyword("PIPELINING");
        return StepOutcome.Success;
    }

    private static async ValueTask<StepOutcome> MailAsync(SessionContext context, byte[] mail)
    {
        var reply = await context.RequireConnection().CommandAsync(mail);
        return reply.IsPositiveCompletion ? StepOutcome.Success : FailTransaction(reply);
    }

    private static async ValueTask<StepOutcome> RcptAsync(SessionContext context, byte[] rcpt, bool isLast)
    {
        var reply = await context.RequireConnection().CommandAsync(rcpt);
        return EvaluateRcpt(context, reply, isLast);
    }

    private static StepOutcome EvaluateRcpt(SessionContext context, SmtpReply reply, bool isLast)
    {
        if (reply.IsPositiveCompletion)
        {
            context.AcceptedRecipients++;
            return StepOutcome.Success;
        }

        if (reply.Code == 421)
        {
            return StepOutcome.SessionFailed(FailureKeys.ForReply(reply));
        }

        // A refused recipient ends the transaction only when no recipient was accepted.
        return isLast && context.AcceptedRecipients == 0
            ? StepOutcome.TransactionFailed(FailureKeys.ForReply(reply))
            : StepOutcome.Rejected(FailureKeys.ForReply(reply));
    }

    private static async ValueTask<StepOutcome> DataAsync(SessionContext context, byte[] data)
    {
        var reply = await context.RequireConnection().CommandAsync(data);
        return reply.IsPositiveIntermediate ? StepOutcome.Success : FailTransaction(reply);
    }

    /// <summary>
    /// MAIL, every RCPT and DATA in one write when the server offers PIPELINING, one at a time when it does not.
    /// DATA is the last command of the group, as RFC 2920 section 3.1 requires. The step fails with the first
    /// negative reply; a 354 to DATA still lets the message go out, because the server then waits for it.
    /// </summary>
    private static async ValueTask<StepOutcome> SendEnvelopeAsync(SessionContext context, Commands commands)
    {
        var connection = context.RequireConnection();
        if (!context.PipeliningOffered)
        {
            var mail = await MailAsync(context, commands.Mail);
            if (!mail.Ok)
            {
                return mail;
            }

            string? rejected = null;
            for (var i = 0; i < commands.Recipients.Count; i++)
            {
                var rcpt = await RcptAsync(context, commands.Recipients[i], i == commands.Recipients.Count - 1);
                if (rcpt.FollowUp != StepFollowUp.Continue)
                {
                    return rcpt;
                }

                rejected ??= rcpt.FailureKey;
            }

            var data = await DataAsync(context, commands.Data);
            return data.Ok && rejected is not null ? StepOutcome.Rejected(rejected) : data;
        }

        await connection.SendAsync(commands.Envelope);
        string? firstFailure = null;
        var sessionLost = false;
        var mailReply = await connection.ReadReplyAsync();
        if (!mailReply.IsPositiveCompletion)
        {
            firstFailure = FailureKeys.ForReply(mailReply);
            sessionLost = mailReply.Code == 421;
        }

        for (var i = 0; i < commands.Recipients.Count; i++)
        {
            var rcptReply = await connection.ReadReplyAsync();
            var rcpt = EvaluateRcpt(context, rcptReply, isLast: false);
            firstFailure ??= rcpt.FailureKey;
            sessionLost |= rcpt.FollowUp == StepFollowUp.EndSession;
        }

        var dataReply = await connection.ReadReplyAsync();
        if (dataReply.IsPositiveIntermediate)
        {
            return firstFailure is null ? StepOutcome.Success : StepOutcome.Rejected(firstFailure);
        }

        firstFailure ??= FailureKeys.ForReply(dataReply);
        return sessionLost || dataReply.Code == 421
            ? StepOutcome.SessionFailed(firstFailure)
            : StepOutcome.TransactionFailed(firstFailure);
    }

    private static async ValueTask<StepOutcome> MessageAsync(SessionContext context)
    {
        var connection = context.RequireConnection();
        var messages = context.Messages ?? throw new InvalidOperationException("The send scenario needs a message source.");
        await connection.SendAsync(messages.Get(context.MessageSequence));
        var reply = await connection.ReadReplyAsync();
        if (!reply.IsPositiveCompletion)
        {
            return FailTransaction(reply);
        }

        context.MessageAccepted = true;
        return StepOutcome.Success;
    }

    private static async ValueTask<StepOutcome> RsetAsync(SessionContext context, byte[] rset)
    {
        var reply = await context.RequireConnection().CommandAsync(rset);
        return reply.IsPositiveCompletion ? StepOutcome.Success : StepOutcome.SessionFailed(FailureKeys.ForReply(reply));
    }

    private static async ValueTask<StepOutcome> QuitAsync(SessionContext context, byte[] quit)
    {
        var reply = await context.RequireConnection().CommandAsync(quit);
        return reply.Code == 221 ? StepOutcome.Success : StepOutcome.Rejected(FailureKeys.ForReply(reply));
    }

    private static async ValueTask<StepOutcome> HoldAsync(SessionContext context)
    {
        context.RequireConnection().Disarm();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, context.Stop);
        }
        catch (OperationCanceledException)
        {
            // The run is stopping: the session closes now.
        }

        return StepOutcome.Success;
    }

    /// <summary>421 means the server is closing the connection (RFC 5321 section 3.8); other negative replies end the transaction only.</summary>
    private static StepOutcome FailTransaction(SmtpReply reply) => reply.Code == 421
        ? StepOutcome.SessionFailed(FailureKeys.ForReply(reply))
        : StepOutcome.TransactionFailed(FailureKeys.ForReply(reply));

    /// <summary>The command lines of a scenario, encoded once.</summary>
    private sealed class Commands
    {
        public Commands(SmtpScenarioSettings settings)
        {
            Ehlo = Line($"EHLO {settings.HeloName}");
            Mail = Line($"MAIL FROM:<{settings.Sender}>");
            Recipients = settings.Recipients.Select(recipient => Line($"RCPT TO:<{recipient}>")).ToList();
            Data = Line("DATA");
            Rset = Line("RSET");
            Quit = Line("QUIT");
            Envelope = Mail.Concat(Recipients.SelectMany(rcpt => rcpt)).Concat(Data).ToArray();
        }

        public byte[] Ehlo { get; }

        public byte[] Mail { get; }

        public IReadOnlyList<byte[]> Recipients { get; }

        public byte[] Data { get; }

        public byte[] Rset { get; }

        public byte[] Quit { get; }

        /// <summary>MAIL, the RCPTs and DATA as one pipelined group.</summary>
        public byte[] Envelope { get; }

        private static byte[] Line(string command) => Encoding.UTF8.GetBytes(command + "\r\n");
    }
}

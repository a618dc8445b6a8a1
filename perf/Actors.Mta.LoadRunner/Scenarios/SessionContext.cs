using System.Net;
using Actors.Mta.LoadRunner.Messages;
using Actors.Mta.LoadRunner.Smtp;

namespace Actors.Mta.LoadRunner.Scenarios;

/// <summary>The state of one session that its steps share: the connection, what the server offered, the current message.</summary>
public sealed class SessionContext(IPEndPoint target, TimeSpan replyTimeout, SessionMessages? messages, CancellationToken stop, CancellationToken abort)
{
    public IPEndPoint Target { get; } = target;

    public TimeSpan ReplyTimeout { get; } = replyTimeout;

    /// <summary>The messages of this session, or null in a scenario that sends none.</summary>
    public SessionMessages? Messages { get; } = messages;

    /// <summary>Cancelled when the run stops starting new work; a held session closes then.</summary>
    public CancellationToken Stop { get; } = stop;

    /// <summary>Cancelled when work still in progress is abandoned.</summary>
    public CancellationToken Abort { get; } = abort;

    public SmtpConnection? Connection { get; set; }

    /// <summary>Set from the EHLO reply.</summary>
    public bool PipeliningOffered { get; set; }

    /// <summary>Run-wide number of the message of the current transaction.</summary>
    public long MessageSequence { get; set; }

    /// <summary>Recipients the server accepted in the current transaction.</summary>
    public int AcceptedRecipients { get; set; }

    /// <summary>Set by the step that gets a positive reply to the message data.</summary>
    public bool MessageAccepted { get; set; }

    public SmtpConnection RequireConnection() =>
        Connection ?? throw new InvalidOperationException("A step that needs a connection ran before the connect step.");

    public void BeginTransaction(long sequence)
    {
        MessageSequence = sequence;
        AcceptedRecipients = 0;
        MessageAccepted = false;
    }
}

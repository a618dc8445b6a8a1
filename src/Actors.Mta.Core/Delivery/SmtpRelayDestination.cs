using Actors.Mta.Core.Configuration;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using MailKit.Net.Smtp;
using MimeKit;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Sends delivery status notifications for senders outside the accepted domains to the configured SMTP
/// relay, with MailKit's client. Only notifications travel this way, so the server never relays other mail.
/// </summary>
public sealed class SmtpRelayDestination : ReceiveActor
{
    public SmtpRelayDestination(Destination.SmtpRelay relay, MtaSettings settings)
    {
        ReceiveAsync<DeliverToDestination>(async job =>
        {
            var results = await Task.Run(() => Send(relay, settings, job));
            job.ReplyTo.Tell(new DestinationResults(job.QueueId, results));
        });
    }

    private static async Task<List<RecipientResult>> Send(Destination.SmtpRelay relay, MtaSettings settings, DeliverToDestination job)
    {
        var recipients = job.Envelope.Recipients;
        try
        {
            using var timeout = new CancellationTokenSource(settings.LmtpConnectTimeout + settings.LmtpReplyTimeout);
            await using var data = job.Data.OpenRead();
            var message = await MimeMessage.LoadAsync(data, timeout.Token);
            using var client = new SmtpClient { LocalDomain = settings.ServerName };
            await client.ConnectAsync(relay.Host, relay.Port, MailKit.Security.SecureSocketOptions.None, timeout.Token);
            var sender = new MailboxAddress("", job.Envelope.SenderText);
            await client.SendAsync(message, sender, recipients.Select(r => new MailboxAddress("", r.Address)), timeout.Token);
            await client.DisconnectAsync(quit: true, timeout.Token);
            return recipients.Select(r => new RecipientResult(r, new SmtpReply(250, "2.0.0", "Accepted by the relay"), relay.Name)).ToList();
        }
        catch (SmtpCommandException ex)
        {
            var reply = new SmtpReply((int)ex.StatusCode, null, ex.Message);
            return recipients.Select(r => new RecipientResult(r, reply, relay.Name)).ToList();
        }
        catch (Exception ex) when (ex is IOException or SmtpProtocolException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            var reply = new SmtpReply(451, "4.4.1", "Relay unavailable: " + ex.Message);
            return recipients.Select(r => new RecipientResult(r, reply, relay.Name)).ToList();
        }
    }

    public static Props Props(Destination.SmtpRelay relay, MtaSettings settings) =>
        Akka.Actor.Props.Create(() => new SmtpRelayDestination(relay, settings));
}

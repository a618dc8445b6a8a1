using Actors.Mta.Core.Configuration;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Development sink: copies each message to DIRECTORY/RECIPIENT/QUEUEID.eml so the server can be tried
/// without an MDA. It is not a mailbox format and not meant for production.
/// </summary>
public sealed class DevSinkDestination : ReceiveActor
{
    public DevSinkDestination(Destination.DevSink sink)
    {
        ReceiveAsync<DeliverToDestination>(async job =>
        {
            // File copies run on the thread pool; the actor only awaits them.
            var results = await Task.Run(() => job.Envelope.Recipients.Select(recipient => Store(sink, job, recipient)).ToList());
            job.ReplyTo.Tell(new DestinationResults(job.QueueId, results));
        });
    }

    private static RecipientResult Store(Destination.DevSink sink, DeliverToDestination job, Protocol.Addresses.Mailbox recipient)
    {
        try
        {
            string folder = Path.Combine(sink.Directory, SafeFileName(recipient.Address));
            Directory.CreateDirectory(folder);
            job.Data.WriteTo(Path.Combine(folder, job.QueueId + ".eml"), flushToDisk: false);
            return new RecipientResult(recipient, new SmtpReply(250, "2.0.0", "Stored in the development sink"), sink.Name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new RecipientResult(recipient, new SmtpReply(451, "4.3.0", "Development sink failed: " + ex.Message), sink.Name);
        }
    }

    // A recipient address may hold '/', quotes or other bytes that are unsafe in a path.
    private static string SafeFileName(string address)
    {
        var chars = address.Select(c => char.IsAsciiLetterOrDigit(c) || c is '@' or '.' or '-' or '_' or '+' ? c : '_').ToArray();
        string name = new(chars);
        return name.StartsWith('.') ? "_" + name[1..] : name;
    }

    public static Props Props(Destination.DevSink sink) => Akka.Actor.Props.Create(() => new DevSinkDestination(sink));
}

using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Spool;
using Actors.Mta.Protocol.Smtp;
using Akka.Event;

namespace Actors.Mta.Core.Queue;

public sealed partial class QueueManager
{
    /// <summary>A notification to queue: its envelope now, its message built from the original when written.</summary>
    private sealed class PendingNotification(QueueEntry entry, Func<MessageData, byte[]> build)
    {
        public QueueEntry Entry { get; } = entry;

        /// <summary>
        /// Builds the notification from <paramref name="original"/> and writes it to the queue, fsynced; the
        /// directory is fsynced too unless a group commit does it for several writes. Blocks.
        /// </summary>
        public void Write(SpoolStore store, MessageData original, bool syncDirectories) =>
            store.EnqueueNew(build(original), Entry, syncDirectories);
    }

    // No notification goes to the null reverse-path (RFC 5321 section 4.5.5), which notifications use themselves.
    // The DSN parameters of RFC 3461 are honoured: a recipient whose NOTIFY leaves out FAILURE (NEVER included)
    // gets no notification, RET=FULL returns the whole message instead of its header, ENVID and ORCPT are
    // returned as Original-Envelope-Id and Original-Recipient. Success and delay notifications are not sent.
    // Delivery over LMTP is final delivery, so a success notification is the mailbox server's to send, and it
    // gets NOTIFY and ORCPT when it offers DSN. Deferred recipients are retried without a delay report.
    private PendingNotification? NotificationFor(string queueId, MessageEnvelope envelope, DateTimeOffset arrival, IReadOnlyList<RecipientResult> bounced)
    {
        if (envelope.ReversePath is null || bounced.Count == 0)
        {
            return null;
        }

        var failed = new List<RecipientResult>();
        foreach (var result in bounced)
        {
            if (DsnParameters.NotifiesOnFailure(envelope.ParametersOf(result.Recipient)))
            {
                failed.Add(result);
                continue;
            }

            _log.Info("{QueueId}: to=<{Recipient}> status=bounced ({Reply}); no notification, the sender asked for none",
                queueId, result.Recipient.Address, result.Reply.ToString());
        }

        if (failed.Count == 0)
        {
            return null;
        }

        foreach (var result in failed)
        {
            _log.Warning("{QueueId}: to=<{Recipient}> status=bounced ({Reply}); notifying <{Sender}>",
                queueId, result.Recipient.Address, result.Reply.ToString(), envelope.SenderText);
        }

        string sender = envelope.SenderText;
        var recipients = failed
            .Select(f => new FailedRecipient(f.Recipient.Address, f.Reply.ToString(), DeliveryStatusNotification.StatusOf(f.Reply.Code, f.Reply.EnhancedCode))
            {
                OriginalRecipient = OriginalRecipientOf(envelope.ParametersOf(f.Recipient)),
            })
            .ToList();
        var options = new NotificationOptions(EnvelopeIdOf(envelope.MailParameters), ReturnsFullMessage(envelope.MailParameters));
        string serverName = _settings.ServerName;
        var entry = new QueueEntry
        {
            QueueId = Spool.QueueId.New(),
            Sender = "",
            MailParameters = [],
            Recipients = [new QueuedRecipient(sender, null)],
            ArrivalTime = DateTimeOffset.UtcNow,
            Attempts = 0,
            NextAttempt = DateTimeOffset.UtcNow,
            Size = 0,
            IsNotification = true,
        };
        return new PendingNotification(entry, original =>
        {
            byte[] message = DeliveryStatusNotification.Build(serverName, queueId, sender, arrival, recipients, original, options);
            return message;
        });
    }

    private static string? EnvelopeIdOf(IReadOnlyList<KeyValuePair<string, string?>> mailParameters)
    {
        string? envelopeId = mailParameters.FirstOrDefault(p => p.Key == "ENVID").Value;
        return envelopeId is not null && DsnParameters.TryDecodeXtext(envelopeId, out string decoded) ? decoded : null;
    }

    private static bool ReturnsFullMessage(IReadOnlyList<KeyValuePair<string, string?>> mailParameters) =>
        string.Equals(mailParameters.FirstOrDefault(p => p.Key == "RET").Value, "FULL", StringComparison.OrdinalIgnoreCase);

    // ORCPT=rfc822;a+2Bb@example.com becomes "rfc822;a+b@example.com": the address type, then the decoded address.
    private static string? OriginalRecipientOf(IReadOnlyList<KeyValuePair<string, string?>> recipientParameters)
    {
        string? value = recipientParameters.FirstOrDefault(p => p.Key == "ORCPT").Value;
        int separator = value?.IndexOf(';') ?? -1;
        if (separator <= 0 || !DsnParameters.TryDecodeXtext(value![(separator + 1)..], out string address))
        {
            return null;
        }

        return value[..separator] + ";" + address;
    }

    /// <summary>
    /// Carries out requests that the queue command left as files in spool/control: "retry-all", "retry-ID"
    /// and "delete-ID". Files keep the command and the server from writing the same queue file at once.
    /// </summary>
    private void ProcessControlRequests()
    {
        string control = _store.Control;
        if (!Directory.Exists(control))
        {
            return;
        }

        foreach (string path in Directory.EnumerateFiles(control))
        {
            string name = Path.GetFileName(path);
            File.Delete(path);
            if (name == "retry-all")
            {
                _log.Info("Queue: retry of every message requested");
                foreach (var id in _entries.Keys.ToList())
                {
                    _entries[id] = _entries[id] with { NextAttempt = DateTimeOffset.UtcNow };
                }
            }
            else if (name.StartsWith("retry-", StringComparison.Ordinal) && _entries.TryGetValue(name["retry-".Length..], out var retry))
            {
                _log.Info("{QueueId}: retry requested", retry.QueueId);
                _entries[retry.QueueId] = retry with { NextAttempt = DateTimeOffset.UtcNow };
            }
            else if (name.StartsWith("delete-", StringComparison.Ordinal) && _entries.TryGetValue(name["delete-".Length..], out var delete))
            {
                if (_inFlight.Contains(delete.QueueId))
                {
                    // Deleting during an attempt would race with its outcome; ask again at the next scan.
                    File.WriteAllText(path, "");
                    continue;
                }

                _log.Warning("{QueueId}: deleted from the queue by the operator", delete.QueueId);
                _entries.Remove(delete.QueueId);
                var store = _store;
                RunStore(delete.QueueId, () => store.Remove(delete.QueueId));
            }
            else
            {
                _log.Warning("Queue: ignoring unknown or stale request {Request}", name);
            }
        }
    }
}

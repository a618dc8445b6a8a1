using Actors.Mta.Core.Configuration;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Delivery;

/// <summary>Requests a check that a recipient exists. The reply is <see cref="RecipientVerified"/>.</summary>
public sealed record VerifyRecipient(Mailbox Recipient);

/// <summary>The reply to <see cref="VerifyRecipient"/>: <see cref="Rejection"/> is the 5xx reply for a recipient that does not exist, else null.</summary>
public sealed record RecipientVerified(Mailbox Recipient, SmtpReply? Rejection);

/// <summary>Asks an LMTP destination to check a recipient with MAIL FROM:&lt;&gt;, RCPT and RSET. The reply is <see cref="DestinationVerified"/>.</summary>
public sealed record VerifyAtDestination(Mailbox Recipient, IActorRef ReplyTo);

/// <summary>The destination's RCPT reply, or null when it could not ask (connection failed, breaker open).</summary>
public sealed record DestinationVerified(Mailbox Recipient, SmtpReply? Reply);

/// <summary>
/// Answers RCPT-time recipient checks for LMTP routes, with a cache of positive and negative answers of
/// their own lifetimes. Lookups of one address in flight at once share one question to the destination.
/// Anything but a clear 5xx from the destination, a timeout included, accepts the recipient.
/// </summary>
public sealed class RecipientVerifier : ReceiveActor, IWithTimers
{
    private sealed record LookupTimedOut(string Key);

    /// <summary>New settings and destination actors after a reload.</summary>
    public sealed record Reconfigure(MtaSettings Settings, IReadOnlyDictionary<string, IActorRef> Destinations);

    private MtaSettings _settings;
    private IReadOnlyDictionary<string, IActorRef> _destinations;
    private readonly Dictionary<string, (SmtpReply? Rejection, DateTime Expires)> _cache = new(StringComparer.OrdinalIgnoreCase);
    private readonly Queue<string> _cacheOrder = new();
    private readonly Dictionary<string, List<IActorRef>> _waiting = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public RecipientVerifier(MtaSettings settings, IReadOnlyDictionary<string, IActorRef> destinations)
    {
        _settings = settings;
        _destinations = destinations;
        Receive<VerifyRecipient>(OnVerify);
        Receive<Reconfigure>(update =>
        {
            // Routes or lifetimes may have changed, so earlier answers no longer hold.
            _settings = update.Settings;
            _destinations = update.Destinations;
            _cache.Clear();
            _cacheOrder.Clear();
        });
        Receive<DestinationVerified>(OnAnswer);
        Receive<LookupTimedOut>(t => Answer(t.Key, rejection: null, cacheFor: null));
    }

    public static Props Props(MtaSettings settings, IReadOnlyDictionary<string, IActorRef> destinations) =>
        Akka.Actor.Props.Create(() => new RecipientVerifier(settings, destinations));

    private void OnVerify(VerifyRecipient request)
    {
        var recipient = request.Recipient;
        var destination = _settings.IsAcceptedDomain(recipient.Domain) ? _settings.RouteFor(recipient.Domain).Destination : null;
        if (!_settings.VerificationEnabled || destination is not Destination.Lmtp)
        {
            Sender.Tell(new RecipientVerified(recipient, null));
            return;
        }

        string key = recipient.Address;
        if (_cache.TryGetValue(key, out var cached) && cached.Expires > DateTime.UtcNow)
        {
            Sender.Tell(new RecipientVerified(recipient, cached.Rejection));
            return;
        }

        if (_waiting.TryGetValue(key, out var waiters))
        {
            waiters.Add(Sender);
            return;
        }

        _waiting[key] = [Sender];
        _destinations[destination.Name].Tell(new VerifyAtDestination(recipient, Self));
        Timers.StartSingleTimer(key, new LookupTimedOut(key), _settings.VerificationTimeout);
    }

    private void OnAnswer(DestinationVerified answer)
    {
        string key = answer.Recipient.Address;
        Timers.Cancel(key);
        switch (answer.Reply)
        {
            case { IsPermanentFailure: true } reply:
                Answer(key, reply, _settings.VerificationNegativeTtl);
                break;
            case { IsPositive: true }:
                Answer(key, rejection: null, _settings.VerificationPositiveTtl);
                break;
            default:
                // A temporary failure, or no answer at all: accept, and ask again next time.
                Answer(key, rejection: null, cacheFor: null);
                break;
        }
    }

    private void Answer(string key, SmtpReply? rejection, TimeSpan? cacheFor)
    {
        if (!_waiting.Remove(key, out var waiters))
        {
            return;
        }

        if (cacheFor is { } ttl && _settings.VerificationMaxCacheEntries > 0)
        {
            Remember(key, rejection, DateTime.UtcNow + ttl);
        }

        var recipient = Queue.Mailboxes.Parse(key);
        foreach (var waiter in waiters)
        {
            waiter.Tell(new RecipientVerified(recipient, rejection));
        }
    }

    private void Remember(string key, SmtpReply? rejection, DateTime expires)
    {
        if (!_cache.ContainsKey(key))
        {
            _cacheOrder.Enqueue(key);
        }

        _cache[key] = (rejection, expires);
        while (_cache.Count > _settings.VerificationMaxCacheEntries && _cacheOrder.TryDequeue(out string? oldest))
        {
            _cache.Remove(oldest);
        }
    }
}

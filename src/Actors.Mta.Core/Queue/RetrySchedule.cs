using Actors.Mta.Core.Configuration;

namespace Actors.Mta.Core.Queue;

/// <summary>Exponential backoff with jitter for deferred messages.</summary>
public static class RetrySchedule
{
    /// <summary>
    /// Returns the delay before the next attempt after <paramref name="attempts"/> failed ones (1 or more):
    /// first-retry × backoff-factor^(attempts-1), at most max-retry-delay, varied by ±jitter.
    /// </summary>
    public static TimeSpan NextDelay(int attempts, MtaSettings settings, Random random)
    {
        double seconds = settings.QueueFirstRetry.TotalSeconds * Math.Pow(settings.QueueBackoffFactor, Math.Max(0, attempts - 1));
        seconds = Math.Min(seconds, settings.QueueMaxRetryDelay.TotalSeconds);
        double factor = 1 + settings.QueueJitter * (random.NextDouble() * 2 - 1);
        return TimeSpan.FromSeconds(seconds * factor);
    }
}

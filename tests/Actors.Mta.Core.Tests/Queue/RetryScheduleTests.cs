using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Queue;
using Actors.Mta.Core.Tests.Infrastructure;

namespace Actors.Mta.Core.Tests.Queue;

/// <summary>The backoff schedule: first-retry × backoff-factor^(attempts-1), capped at max-retry-delay, ±jitter.</summary>
public sealed class RetryScheduleTests
{
    private static MtaSettings Settings(double jitter) => TestConfig.Load($$"""
        actors-mta.queue {
          first-retry = 1m
          backoff-factor = 2
          max-retry-delay = 1h
          jitter = {{jitter.ToString(System.Globalization.CultureInfo.InvariantCulture)}}
        }
        """);

    // 60 s doubled per attempt reaches the 3600 s cap at attempt 7 (3840 s uncapped).
    public static TheoryData<int, double> ExpectedSeconds => new()
    {
        { 1, 60 },
        { 2, 120 },
        { 3, 240 },
        { 4, 480 },
        { 5, 960 },
        { 6, 1920 },
        { 7, 3600 },
        { 8, 3600 },
        { 9, 3600 },
        { 10, 3600 },
    };

    [Theory]
    [MemberData(nameof(ExpectedSeconds))]
    public void NextDelay_WithoutJitterIsExact(int attempts, double seconds)
    {
        var delay = RetrySchedule.NextDelay(attempts, Settings(jitter: 0), new Random(1));

        Assert.Equal(seconds, delay.TotalSeconds, precision: 6);
    }

    [Theory]
    [MemberData(nameof(ExpectedSeconds))]
    public void NextDelay_StaysWithinJitter(int attempts, double seconds)
    {
        var settings = Settings(jitter: 0.2);
        var random = new Random(42);

        for (int i = 0; i < 200; i++)
        {
            var delay = RetrySchedule.NextDelay(attempts, settings, random);
            Assert.InRange(delay.TotalSeconds, seconds * 0.8, seconds * 1.2);
        }
    }

    [Fact]
    public void NextDelay_JitterVariesDelays()
    {
        var settings = Settings(jitter: 0.2);
        var random = new Random(42);

        var delays = Enumerable.Range(0, 20).Select(_ => RetrySchedule.NextDelay(1, settings, random)).ToHashSet();

        Assert.True(delays.Count > 1, "20 delays with jitter 0.2 were all equal");
    }

    [Fact]
    public void NextDelay_SameSeedSameDelays()
    {
        var settings = Settings(jitter: 0.2);
        var first = new Random(7);
        var second = new Random(7);

        var firstDelays = Enumerable.Range(1, 10).Select(n => RetrySchedule.NextDelay(n, settings, first)).ToList();
        var secondDelays = Enumerable.Range(1, 10).Select(n => RetrySchedule.NextDelay(n, settings, second)).ToList();

        Assert.Equal(firstDelays, secondDelays);
    }
}

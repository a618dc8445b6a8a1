namespace Actors.Mta.Protocol.Tests;

/// <summary>Counts the managed heap bytes that an action allocates on the calling thread.</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs the action once to warm it up (static constructors and first-call work), then returns the bytes
    /// allocated by <paramref name="iterations"/> further runs.
    /// </summary>
    public static long Measure(Action action, int iterations = 100)
    {
        action();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < iterations; i++)
        {
            action();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}

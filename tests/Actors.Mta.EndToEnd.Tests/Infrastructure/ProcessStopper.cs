using System.Diagnostics;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>Stops child processes by their process id.</summary>
internal static class ProcessStopper
{
    /// <summary>
    /// Sends SIGTERM so the process can stop its own children (Dovecot's master does), waits up to
    /// <paramref name="grace"/>, then kills the process and its descendants.
    /// </summary>
    public static void Stop(Process process, TimeSpan grace)
    {
        if (HasExited(process))
        {
            return;
        }

        Posix.Kill(process.Id, Posix.SignalTerminate);
        if (process.WaitForExit(grace))
        {
            return;
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // The process exited between the wait and the kill.
        }

        process.WaitForExit(TimeSpan.FromSeconds(10));
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}

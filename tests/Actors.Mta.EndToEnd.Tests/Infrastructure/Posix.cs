using System.Runtime.InteropServices;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>The few libc calls .NET does not wrap.</summary>
internal static class Posix
{
    public const int SignalTerminate = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    public static extern int Chown(string path, int owner, int group);

    [DllImport("libc", EntryPoint = "geteuid")]
    public static extern uint GetEffectiveUserId();
}

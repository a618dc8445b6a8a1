using System.Net.Sockets;

namespace Actors.Mta.Core.Listening;

/// <summary>A listening socket passed by the service manager, with its name from LISTEN_FDNAMES.</summary>
public sealed record InheritedSocket(Socket Socket, string Name);

/// <summary>
/// Takes the listening sockets that systemd passes by socket activation (sd_listen_fds(3)): LISTEN_PID must
/// be this process, LISTEN_FDS counts the descriptors from 3 on, LISTEN_FDNAMES names them, colon-separated.
/// </summary>
public static class SystemdSockets
{
    private const int FirstDescriptor = 3;

    /// <summary>
    /// Returns the passed sockets, or an empty list when none were passed to this process. The three variables
    /// are removed from the environment either way, so child processes do not take the sockets for theirs.
    /// </summary>
    public static IReadOnlyList<InheritedSocket> Take()
    {
        string? pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        string? count = Environment.GetEnvironmentVariable("LISTEN_FDS");
        string? names = Environment.GetEnvironmentVariable("LISTEN_FDNAMES");
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);

        if (!int.TryParse(pid, out int listenPid) || listenPid != Environment.ProcessId ||
            !int.TryParse(count, out int descriptors) || descriptors <= 0)
        {
            return [];
        }

        string[] nameList = names?.Split(':') ?? [];
        var sockets = new List<InheritedSocket>(descriptors);
        for (int i = 0; i < descriptors; i++)
        {
            var handle = new SafeSocketHandle(FirstDescriptor + i, ownsHandle: true);
            string name = i < nameList.Length && nameList[i].Length > 0 ? nameList[i] : "unknown";
            sockets.Add(new InheritedSocket(new Socket(handle), name));
        }

        return sockets;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>Free loopback TCP ports for the servers a test starts.</summary>
public static class FreeTcpPort
{
    /// <summary>
    /// Reserves a port by binding port 0 on 127.0.0.1, then releases it. Another process may take the port
    /// before the caller binds it; the kernel hands out ephemeral ports in rotation, so this is rare.
    /// </summary>
    public static int Next()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }
}

using System.Net;

namespace Actors.Mta.Core.Configuration;

/// <summary>Parses "host:port" and "[ipv6]:port" as written in the configuration.</summary>
public static class EndpointText
{
    public static bool TryParse(string text, out string host, out int port) => TryParse(text, minPort: 1, out host, out port);

    private static bool TryParse(string text, int minPort, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out port) || port < minPort || port > 65535)
        {
            return false;
        }

        host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            return IPAddress.TryParse(host, out _);
        }

        return host.Length > 0 && !host.Contains(':');
    }

    /// <summary>Parses an endpoint whose host is an IP address, as the listener needs. Port 0 asks for any free port.</summary>
    public static bool TryParseIp(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (!TryParse(text, minPort: 0, out string host, out int port) || !IPAddress.TryParse(host, out var address))
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Actors.Mta.Core.Configuration;

namespace Actors.Mta.Core.Sessions;

/// <summary>Whether a new connection may start a session, or which limit it is over.</summary>
public enum Admission
{
    Admitted,

    /// <summary>limits.max-connections sessions are open.</summary>
    TooManyConnections,

    /// <summary>limits.max-connections-per-client sessions from this client are open.</summary>
    TooManyFromClient,

    /// <summary>The client used up limits.max-connection-rate-per-client for now.</summary>
    RateExceeded,
}

/// <summary>
/// Counts open sessions per client and the rate of new connections per client, for the session supervisor,
/// which owns it: it is not thread-safe. A client is one IPv4 address or one IPv6 /64 network.
/// </summary>
public sealed class ConnectionLimiter
{
    private sealed class ClientState
    {
        public int Open;
        public double Tokens;
        public long RefilledAt;
    }

    private readonly Dictionary<string, ClientState> _clients = new();
    private readonly Func<long> _clock;

    /// <param name="clock">Stopwatch timestamps; tests pass their own to move time.</param>
    public ConnectionLimiter(Func<long>? clock = null)
    {
        _clock = clock ?? Stopwatch.GetTimestamp;
    }

    /// <summary>Clients with open sessions or a connection rate bucket not yet full.</summary>
    public int TrackedClients => _clients.Count;

    /// <summary>
    /// Returns the key that groups connections of one client: the IPv4 address, or the /64 network of an IPv6
    /// address, since one IPv6 host commonly holds a whole /64. An IPv4-mapped IPv6 address counts as IPv4.
    /// </summary>
    public static string ClientKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// Decides on a new connection from <paramref name="clientKey"/> while <paramref name="openSessions"/> sessions
    /// are open in all. An admitted connection counts as open until <see cref="Release"/>; a rejected one takes nothing.
    /// </summary>
    public Admission TryAdmit(string clientKey, int openSessions, MtaSettings settings)
    {
        if (openSessions >= settings.MaxConnections)
        {
            return Admission.TooManyConnections;
        }

        long now = _clock();
        if (!_clients.TryGetValue(clientKey, out var client))
        {
            client = new ClientState { Tokens = settings.MaxConnectionRatePerClient, RefilledAt = now };
            _clients[clientKey] = client;
        }

        if (settings.MaxConnectionsPerClient > 0 && client.Open >= settings.MaxConnectionsPerClient)
        {
            return Admission.TooManyFromClient;
        }

        if (settings.MaxConnectionRatePerClient > 0)
        {
            Refill(client, now, settings.MaxConnectionRatePerClient);
            if (client.Tokens < 1)
            {
                return Admission.RateExceeded;
            }

            client.Tokens -= 1;
        }

        client.Open++;
        return Admission.Admitted;
    }

    /// <summary>Records that a session of <paramref name="clientKey"/> has ended.</summary>
    public void Release(string clientKey)
    {
        if (_clients.TryGetValue(clientKey, out var client) && client.Open > 0)
        {
            client.Open--;
        }
    }

    /// <summary>Forgets clients with no open session whose rate bucket has refilled, so the table stays small.</summary>
    public void Sweep(MtaSettings settings)
    {
        long now = _clock();
        foreach (var (key, client) in _clients.ToList())
        {
            if (client.Open > 0)
            {
                continue;
            }

            if (settings.MaxConnectionRatePerClient > 0)
            {
                Refill(client, now, settings.MaxConnectionRatePerClient);
                if (client.Tokens < settings.MaxConnectionRatePerClient)
                {
                    continue;
                }
            }

            _clients.Remove(key);
        }
    }

    /// <summary>The open sessions of one client, for tests and logs.</summary>
    public int OpenSessions(string clientKey) => _clients.TryGetValue(clientKey, out var client) ? client.Open : 0;

    // A bucket of ratePerMinute tokens that refills at ratePerMinute per minute.
    private static void Refill(ClientState client, long now, int ratePerMinute)
    {
        double minutes = Stopwatch.GetElapsedTime(client.RefilledAt, now).TotalMinutes;
        client.Tokens = Math.Min(ratePerMinute, client.Tokens + minutes * ratePerMinute);
        client.RefilledAt = now;
    }
}

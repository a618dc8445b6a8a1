using System.Net;
using Actors.Mta.Protocol.Proxy;

namespace Actors.Mta.Core.Sessions;

/// <summary>Outcome of reading a PROXY header: the header, or why there is none.</summary>
public sealed record ProxyHeaderResult(ProxyHeader? Header, string? Error);

/// <summary>Reads the PROXY protocol header that a trusted proxy sends before the client's first byte.</summary>
public static class ProxyHeaderReader
{
    /// <summary>
    /// Reads from <paramref name="transport"/> until a complete header, an invalid one, the end of the input or
    /// <paramref name="timeout"/>. On success exactly the header is consumed, so the session reads the client's
    /// bytes that came with it. Never throws: every failure is a result with an error.
    /// </summary>
    public static async Task<ProxyHeaderResult> ReadAsync(ISessionTransport transport, TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        var input = transport.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellation.Token);
                var buffer = result.Buffer;
                var status = ProxyProtocolParser.TryParse(buffer, out var header, out string error);
                switch (status)
                {
                    case ProxyParseStatus.Success:
                        input.AdvanceTo(buffer.GetPosition(header!.Length));
                        return new ProxyHeaderResult(header, null);
                    case ProxyParseStatus.Invalid:
                        input.AdvanceTo(buffer.Start, buffer.End);
                        return new ProxyHeaderResult(null, "invalid PROXY header: " + error);
                }

                if (result.IsCompleted)
                {
                    input.AdvanceTo(buffer.End);
                    return new ProxyHeaderResult(null, buffer.Length == 0
                        ? "connection closed before a PROXY header"
                        : "connection closed inside a PROXY header");
                }

                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            return new ProxyHeaderResult(null, $"no PROXY header within {timeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            return new ProxyHeaderResult(null, "read failed: " + ex.Message);
        }
    }

    /// <summary>The client endpoint to use: the header's source, or the peer's own for LOCAL and UNKNOWN headers.</summary>
    public static IPEndPoint? ClientOf(ProxyHeader header, IPEndPoint? peer) => header.Source ?? peer;
}

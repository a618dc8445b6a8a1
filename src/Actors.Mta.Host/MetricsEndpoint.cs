using System.Net;
using Actors.Mta.Core.Configuration;
using Microsoft.Extensions.Hosting;
using Prometheus;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>
/// Serves prometheus-net's default registry, which contains the server's metrics (see
/// <see cref="Core.Metrics.ServerMetrics"/>) and the process metrics, at http://ENDPOINT/metrics, with
/// prometheus-net's HttpListener-based <see cref="MetricServer"/>. Serves nothing when actors-mta.metrics.endpoint is "".
/// </summary>
internal sealed class MetricsEndpoint(MtaSettings settings) : IHostedService, IDisposable
{
    private MetricServer? _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.MetricsEndpoint is not { } endpoint)
        {
            Log.Information("Metrics are not served: actors-mta.metrics.endpoint is empty");
            return Task.CompletedTask;
        }

        var server = new MetricServer(HostName(endpoint.Address), endpoint.Port, "metrics/");
        try
        {
            server.Start();
        }
        catch (HttpListenerException ex)
        {
            server.Dispose();
            throw new InvalidOperationException(
                $"Cannot serve metrics on {endpoint} (actors-mta.metrics.endpoint): {ex.Message}; choose a free port, or \"\" to serve no metrics", ex);
        }

        _server = server;
        Log.Information("Serving metrics at http://{Endpoint}/metrics", endpoint);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public void Dispose() => _server?.Dispose();

    // HttpListener takes "+" for every IPv4 address. A specific address must also be what scrapers send as the
    // Host header, since HttpListener matches requests to its prefixes by that header.
    private static string HostName(IPAddress address) => address.Equals(IPAddress.Any) ? "+" : address.ToString();
}

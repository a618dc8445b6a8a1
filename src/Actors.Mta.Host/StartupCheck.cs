using Actors.Mta.Core.Listening;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>
/// Confirms at start-up that the listener is accepting. If it failed to start (a port in use, say), the
/// server logs why and exits with status 1 instead of running without a socket.
/// </summary>
internal sealed class StartupCheck(IRequiredActor<ListenerKey> listener, IHostApplicationLifetime lifetime) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var actor = await listener.GetAsync(cancellationToken);
            var listening = await actor.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, TimeSpan.FromSeconds(10), cancellationToken);
            Log.Information("Actors.Mta ready, accepting on {Endpoints}", string.Join(", ", listening.Endpoints));
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
            Log.Fatal("The listener did not start; see the error above. Stopping.");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using Actors.Mta.Core.Listening;
using Actors.Mta.Core.Queue;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>
/// Confirms at start-up that the listener is accepting and that the queue has loaded the spool. The host
/// reports itself started (and sends systemd READY=1) only after this service's StartAsync returns. If the
/// listener failed to start (a port in use, say), the server logs why and exits with status 1 instead of
/// running without a socket.
/// </summary>
internal sealed class StartupCheck(
    IRequiredActor<ListenerKey> listener,
    IRequiredActor<DeliveryKey> delivery,
    IHostApplicationLifetime lifetime) : IHostedService
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan QueuePollInterval = TimeSpan.FromMilliseconds(100);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ListenerActor.Listening listening;
        try
        {
            var actor = await listener.GetAsync(cancellationToken);
            listening = await actor.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, AskTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
            Log.Fatal("The listener did not start; see the error above. Stopping.");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        try
        {
            await WaitForQueueAsync(cancellationToken);
        }
        catch (AskTimeoutException)
        {
            Log.Fatal("The delivery actor did not report the queue status within {Timeout} s. Stopping.", AskTimeout.TotalSeconds);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        Log.Information("Actors.Mta ready, accepting on {Endpoints}", string.Join(", ", listening.Endpoints));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Polls the queue until it has read the spool, so messages queued before a restart are known before the
    /// server reports ready. There is no overall limit: a large spool takes as long as it takes, and under
    /// systemd TimeoutStartSec bounds the wait. A spool that fails to load makes the queue actor fail and be
    /// restarted, which loads it again.
    /// </summary>
    private async Task WaitForQueueAsync(CancellationToken cancellationToken)
    {
        var actor = await delivery.GetAsync(cancellationToken);
        bool logged = false;
        while (true)
        {
            var status = await actor.Ask<QueueStatus>(GetQueueStatus.Instance, AskTimeout, cancellationToken);
            if (status.Loaded)
            {
                return;
            }

            if (!logged)
            {
                Log.Information("Waiting for the queue to load the spool");
                logged = true;
            }

            await Task.Delay(QueuePollInterval, cancellationToken);
        }
    }
}

using System.Runtime.InteropServices;
using Actors.Mta.Core.Configuration;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>The path of the configuration file the server started with, for reloads.</summary>
internal sealed record ConfigurationSource(string Path);

/// <summary>
/// Re-reads the configuration on SIGHUP (systemctl reload). Valid settings go to the session supervisor and to
/// delivery, so new sessions and deliveries use the new accepted domains, routes and limits while open
/// connections keep theirs. Invalid settings are logged with the key at fault and the old ones stay in force.
/// </summary>
internal sealed class ConfigurationReloader : IHostedService, IDisposable
{
    private readonly ConfigurationSource source;
    private readonly IRequiredActor<SessionsKey> sessions;
    private readonly IRequiredActor<DeliveryKey> delivery;
    private readonly PosixSignalRegistration _registration;
    private MtaSettings _current;

    // The handler is registered here, when the host builds its hosted services and before any of them starts,
    // so a SIGHUP that arrives as soon as the listener accepts is not lost. A reload waits for the actors.
    public ConfigurationReloader(ConfigurationSource source, MtaSettings startSettings,
        IRequiredActor<SessionsKey> sessions, IRequiredActor<DeliveryKey> delivery)
    {
        this.source = source;
        this.sessions = sessions;
        this.delivery = delivery;
        _current = startSettings;
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // Keep the process alive: SIGHUP's default action would end it.
            context.Cancel = true;
            _ = Task.Run(ReloadAsync);
        });
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _registration.Dispose();

    private async Task ReloadAsync()
    {
        MtaSettings settings;
        try
        {
            (_, settings) = ServerConfiguration.Load(source.Path);
        }
        catch (InvalidConfigurationException ex)
        {
            Log.Error("Reload rejected, the configuration in force is unchanged: {Error}", ex.Message);
            return;
        }

        WarnAboutRestartOnlyKeys(settings);
        var apply = new ApplySettings(settings);
        (await sessions.GetAsync()).Tell(apply);
        (await delivery.GetAsync()).Tell(apply);
        _current = settings;
        Log.Information("Configuration reloaded from {Path}: {DomainCount} accepted domain(s), {RouteCount} route(s)",
            source.Path, settings.AcceptedDomains.Count, settings.Routes.Count);
    }

    // These keys are read once at start-up; a reload cannot move sockets or the spool.
    private void WarnAboutRestartOnlyKeys(MtaSettings settings)
    {
        if (!settings.ListenEndpoints.SequenceEqual(_current.ListenEndpoints) || settings.ListenBacklog != _current.ListenBacklog)
        {
            Log.Warning("Reload: changes to actors-mta.listen take effect only after a restart");
        }

        if (settings.SpoolDirectory != _current.SpoolDirectory)
        {
            Log.Warning("Reload: a change of actors-mta.spool-directory takes effect only after a restart");
        }
    }
}

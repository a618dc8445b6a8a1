using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Listening;
using Actors.Mta.Core.Sessions;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Actors.Mta.Host;

/// <summary>Marker keys for the top-level actors in Akka.Hosting's registry.</summary>
public sealed class ListenerKey;

public sealed class DeliveryKey;

public sealed class SessionsKey;

/// <summary>Builds the generic host that runs the actor system.</summary>
internal static class ServerHost
{
    public static IHost Build(Config config, MtaSettings settings, IReadOnlyList<InheritedSocket> inherited, string configPath)
    {
        PrepareSpool(settings);
        // The server reads akka.hocon, not appsettings files. Watching those for changes would put an inotify
        // watch on the working directory's whole tree, the spool included, and wake on every message file.
        // The host reads this switch from its DOTNET_ environment variables; a value in the builder settings'
        // configuration was measured to leave the watch in place (Microsoft.Extensions.Hosting 10.0).
        Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddSerilog();
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(new ConfigurationSource(configPath));
        builder.Services.AddHostedService<MetricsEndpoint>();
        builder.Services.AddAkka("actors-mta", (akka, _) =>
        {
            akka.AddHocon(config, HoconAddMode.Prepend);
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddSerilogLogging();
            });
            akka.WithActors((system, registry) =>
            {
                var delivery = system.ActorOf(DeliveryManager.Props(settings), "delivery");
                var sessions = system.ActorOf(SessionSupervisor.Props(settings, delivery), "sessions");
                var listener = system.ActorOf(ListenerActor.Props(settings, sessions, inherited), "listener");
                registry.Register<ListenerKey>(listener);
                RegisterShutdown(system, settings, listener, sessions, delivery);
                registry.Register<DeliveryKey>(delivery);
                registry.Register<SessionsKey>(sessions);
            });
        });
        builder.Services.AddHostedService<StartupCheck>();
        builder.Services.AddHostedService<ConfigurationReloader>();

        // The host's own stop timeout must leave room for the sessions' grace period.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = settings.ShutdownGracePeriod + TimeSpan.FromSeconds(30));
        builder.Services.AddSystemdIntegration();
        return builder.Build();
    }

    /// <summary>
    /// Drains the server in Akka's coordinated shutdown, which SIGTERM starts: the listener closes first, then
    /// deliveries whose client waits must finish or queue within half the grace period, and the
    /// sessions get the whole grace period to end their transactions.
    /// </summary>
    private static void RegisterShutdown(ActorSystem system, MtaSettings settings, IActorRef listener, IActorRef sessions, IActorRef delivery)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        var grace = settings.ShutdownGracePeriod;
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-accepting", async () =>
        {
            await listener.Ask<Akka.Done>(ListenerActor.StopAccepting.Instance, TimeSpan.FromSeconds(5));
            return Akka.Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "drain-sessions", async () =>
        {
            await delivery.Ask<Akka.Done>(new DrainDelivery(grace / 2), TimeSpan.FromSeconds(5));
            await sessions.Ask<SessionSupervisor.Drained>(new SessionSupervisor.DrainSessions(grace), grace + TimeSpan.FromSeconds(5));
            Log.Information("Shutting down: every session is closed");
            return Akka.Done.Instance;
        });
    }

    // Files left in spool/incoming by a crash are messages whose data never got a 250 reply, so the sender
    // still has them; removing them loses nothing.
    private static void PrepareSpool(MtaSettings settings)
    {
        string incoming = Path.Combine(settings.SpoolDirectory, "incoming");
        Directory.CreateDirectory(incoming);
        int removed = 0;
        foreach (string file in Directory.EnumerateFiles(incoming))
        {
            File.Delete(file);
            removed++;
        }

        if (removed > 0)
        {
            Log.Information("Removed {Count} partly received message file(s) from {Directory}", removed, incoming);
        }
    }
}

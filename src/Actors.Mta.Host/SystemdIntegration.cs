using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Actors.Mta.Host;

/// <summary>Registers the service-manager notifications (sd_notify(3)): READY=1, STOPPING=1, STATUS= and WATCHDOG=1.</summary>
internal static class SystemdIntegration
{
    /// <summary>
    /// Registers <see cref="SystemdLifetime"/>, which sends READY=1 once every hosted service has started (so
    /// after <see cref="StartupCheck"/>) and STOPPING=1 when shutdown begins, and the watchdog that sends
    /// STATUS= and WATCHDOG=1. Without NOTIFY_SOCKET the host keeps its console lifetime and sends nothing.
    /// </summary>
    public static IServiceCollection AddSystemdIntegration(this IServiceCollection services)
    {
        // AddSystemd activates only when the parent process is systemd. sd_notify(3) sends whenever
        // NOTIFY_SOCKET is set, which also covers systemd-run and other supervisors that speak the protocol.
        services.AddSystemd();
        if (!SystemdHelpers.IsSystemdService() && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")))
        {
            services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
            services.AddSingleton<IHostLifetime, SystemdLifetime>();
        }

        services.AddHostedService<SystemdWatchdogService>();
        if (DispatcherStallHook.IsEnabled)
        {
            services.AddHostedService<DispatcherStallHook>();
        }

        return services;
    }
}

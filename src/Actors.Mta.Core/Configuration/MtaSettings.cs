using System.Net;
using System.Net.Sockets;
using Actors.Mta.Protocol.Smtp;
using Akka.Configuration;

namespace Actors.Mta.Core.Configuration;

/// <summary>New settings to use from now on, after a reload (SIGHUP). Sessions and deliveries already running keep theirs.</summary>
public sealed record ApplySettings(MtaSettings Settings);

/// <summary>
/// The server's settings, read from the actors-mta section of akka.hocon. Every key is required:
/// <see cref="Load"/> throws <see cref="InvalidConfigurationException"/> naming the first key that is missing or invalid.
/// </summary>
public sealed record MtaSettings
{
    public const string Section = "actors-mta";

    public required string ServerName { get; init; }
    public required IReadOnlyList<IPEndPoint> ListenEndpoints { get; init; }
    public required int ListenBacklog { get; init; }
    public required string SpoolDirectory { get; init; }
    public required IReadOnlyList<string> AcceptedDomains { get; init; }
    public required IReadOnlyList<Route> Routes { get; init; }
    public required long MaxMessageSize { get; init; }
    public required int MaxRecipients { get; init; }
    public required int MaxCommandLineLength { get; init; }

    /// <summary>Longest line of message data in octets as received, CRLF included.</summary>
    public required int MaxDataLineLength { get; init; }

    /// <summary>Largest message, in bytes with its Received header, kept in memory instead of a spool file while the client waits.</summary>
    public required int MemoryMessageSize { get; init; }
    public required int MaxTransactionsPerSession { get; init; }
    public required int MaxCommandsPerSession { get; init; }

    /// <summary>5xx replies to commands after which a session is closed with 421.</summary>
    public required int MaxErrorsPerSession { get; init; }

    /// <summary>Least average rate of message data in bytes per second over <see cref="MinDataRateWindow"/>; 0 for none.</summary>
    public required int MinDataRate { get; init; }
    public required TimeSpan MinDataRateWindow { get; init; }
    public required int MaxConnections { get; init; }

    /// <summary>Sessions open at once per IPv4 address or IPv6 /64; 0 for no limit.</summary>
    public required int MaxConnectionsPerClient { get; init; }

    /// <summary>New connections per minute per IPv4 address or IPv6 /64; 0 for no limit.</summary>
    public required int MaxConnectionRatePerClient { get; init; }
    public required TimeSpan FirstCommandTimeout { get; init; }
    public required TimeSpan SessionLifetime { get; init; }

    /// <summary>Wait before the greeting, during which a client that sends anything is rejected; zero for none.</summary>
    public required TimeSpan GreetingDelay { get; init; }

    /// <summary>Peers whose connections start with a PROXY protocol header; empty when the protocol is off.</summary>
    public required IReadOnlyList<IPNetwork> ProxyProtocolTrusted { get; init; }
    public required TimeSpan ProxyProtocolHeaderTimeout { get; init; }
    public required BareLineEndingPolicy BareLineEndings { get; init; }
    public required TimeSpan CommandTimeout { get; init; }
    public required TimeSpan DataBlockTimeout { get; init; }
    public required TimeSpan DeliveryTimeout { get; init; }
    public required TimeSpan LmtpConnectTimeout { get; init; }
    public required TimeSpan LmtpReplyTimeout { get; init; }
    public required int LmtpMaxConnections { get; init; }
    public required TimeSpan LmtpIdleTimeout { get; init; }
    public required int LmtpMaxWaiting { get; init; }
    public required int LmtpBreakerMaxFailures { get; init; }
    public required TimeSpan LmtpBreakerResetTimeout { get; init; }
    public required TimeSpan QueueFirstRetry { get; init; }
    public required double QueueBackoffFactor { get; init; }
    public required TimeSpan QueueMaxRetryDelay { get; init; }
    public required double QueueJitter { get; init; }
    public required TimeSpan QueueLifetime { get; init; }
    public required TimeSpan QueueScanInterval { get; init; }
    public required int QueueMaxConcurrentDeliveries { get; init; }
    public required bool QueueGroupCommit { get; init; }

    public required TimeSpan ShutdownGracePeriod { get; init; }
    public required bool VerificationEnabled { get; init; }
    public required TimeSpan VerificationPositiveTtl { get; init; }
    public required TimeSpan VerificationNegativeTtl { get; init; }
    public required int VerificationMaxCacheEntries { get; init; }
    public required TimeSpan VerificationTimeout { get; init; }

    /// <summary>Endpoint of the HTTP server for Prometheus metrics, or null when metrics are not served.</summary>
    public required IPEndPoint? MetricsEndpoint { get; init; }

    public required LoggingSettings Logging { get; init; }

    /// <summary>SMTP relay for notifications to senders outside the accepted domains, or null for none.</summary>
    public required Destination.SmtpRelay? NotificationRelay { get; init; }

    /// <summary>STARTTLS settings, or null when no certificate is configured and STARTTLS is not offered.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>True when mail for <paramref name="domain"/> is accepted here (see <see cref="DomainEquals"/>).</summary>
    public bool IsAcceptedDomain(string domain) => AcceptedDomains.Any(d => DomainEquals(d, domain));

    /// <summary>
    /// Compares domain names ignoring the case of ASCII letters only. Unicode case rules would make
    /// "maıl.example" (dotless i) or "example.ſe" (long s) equal to an accepted "mail.example" or "example.se".
    /// </summary>
    public static bool DomainEquals(string a, string b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && !(char.IsAscii(a[i]) && char.IsAscii(b[i]) && char.ToLowerInvariant(a[i]) == char.ToLowerInvariant(b[i])))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Returns the route for an accepted domain; validation guarantees every accepted domain has one.</summary>
    public Route RouteFor(string domain) => Routes.First(r => r.Matches(domain));

    /// <summary>Reads and validates the settings. Relative paths are resolved against <paramref name="baseDirectory"/>.</summary>
    public static MtaSettings Load(Config config, string baseDirectory)
    {
        var reader = new SettingsReader(config, Section);
        string serverName = reader.String("server-name", allowEmpty: true);
        var accepted = reader.StringList("accepted-domains", minCount: 1);
        var routes = ReadRoutes(reader, baseDirectory);
        foreach (string domain in accepted)
        {
            if (!routes.Any(r => r.Matches(domain)))
            {
                throw new InvalidConfigurationException(Section + ".routes", $"no route matches the accepted domain \"{domain}\"; add it to a route's domains or use \"*\"");
            }
        }

        var settings = new MtaSettings
        {
            ServerName = serverName.Length > 0 ? serverName : Dns.GetHostName(),
            ListenEndpoints = ReadEndpoints(reader),
            ListenBacklog = reader.Int("listen.backlog", min: 1, max: 65535),
            SpoolDirectory = Path.GetFullPath(reader.String("spool-directory"), baseDirectory),
            AcceptedDomains = accepted,
            Routes = routes,
            MaxMessageSize = reader.Long("limits.max-message-size", min: 1024, max: long.MaxValue / 2),
            MaxRecipients = reader.Int("limits.max-recipients", min: 100, max: 100_000),
            MaxCommandLineLength = reader.Int("limits.max-command-line-length", min: 512, max: 65536),
            MaxDataLineLength = reader.Int("limits.max-data-line-length", min: 1000, max: 1_073_741_824),
            MemoryMessageSize = reader.Int("limits.memory-message-size", min: 0, max: 16_777_216),
            MaxTransactionsPerSession = reader.Int("limits.max-transactions-per-session", min: 1, max: 1_000_000),
            MaxCommandsPerSession = reader.Int("limits.max-commands-per-session", min: 10, max: 100_000_000),
            MaxErrorsPerSession = reader.Int("limits.max-errors-per-session", min: 1, max: 1_000_000),
            MinDataRate = reader.Int("limits.min-data-rate", min: 0, max: 1_000_000_000),
            MinDataRateWindow = reader.Duration("limits.min-data-rate-window"),
            MaxConnections = reader.Int("limits.max-connections", min: 1, max: 1_000_000),
            MaxConnectionsPerClient = reader.Int("limits.max-connections-per-client", min: 0, max: 1_000_000),
            MaxConnectionRatePerClient = reader.Int("limits.max-connection-rate-per-client", min: 0, max: 1_000_000),
            FirstCommandTimeout = reader.Duration("timeouts.first-command"),
            SessionLifetime = reader.Duration("timeouts.session-lifetime"),
            GreetingDelay = reader.Duration("smtp.greeting-delay", allowZero: true),
            ProxyProtocolTrusted = ReadTrustedProxies(reader),
            ProxyProtocolHeaderTimeout = reader.Duration("proxy-protocol.header-timeout"),
            BareLineEndings = reader.Enum("smtp.bare-line-endings", new Dictionary<string, BareLineEndingPolicy>
            {
                ["reject"] = BareLineEndingPolicy.Reject,
                ["normalize"] = BareLineEndingPolicy.Normalize,
            }),
            CommandTimeout = reader.Duration("timeouts.command"),
            DataBlockTimeout = reader.Duration("timeouts.data-block"),
            DeliveryTimeout = reader.Duration("timeouts.delivery"),
            LmtpConnectTimeout = reader.Duration("lmtp.connect-timeout"),
            LmtpReplyTimeout = reader.Duration("lmtp.reply-timeout"),
            LmtpMaxConnections = reader.Int("lmtp.max-connections", min: 1, max: 10_000),
            LmtpIdleTimeout = reader.Duration("lmtp.idle-timeout"),
            LmtpMaxWaiting = reader.Int("lmtp.max-waiting", min: 0, max: 1_000_000),
            LmtpBreakerMaxFailures = reader.Int("lmtp.breaker-max-failures", min: 1, max: 1000),
            LmtpBreakerResetTimeout = reader.Duration("lmtp.breaker-reset-timeout"),
            ShutdownGracePeriod = ReadGracePeriod(reader, config),
            VerificationEnabled = reader.Boolean("verification.enabled"),
            VerificationPositiveTtl = reader.Duration("verification.positive-cache-ttl"),
            VerificationNegativeTtl = reader.Duration("verification.negative-cache-ttl"),
            VerificationMaxCacheEntries = reader.Int("verification.max-cache-entries", min: 0, max: 10_000_000),
            VerificationTimeout = reader.Duration("verification.timeout"),
            QueueFirstRetry = reader.Duration("queue.first-retry"),
            QueueBackoffFactor = reader.Double("queue.backoff-factor", min: 1, max: 10),
            QueueMaxRetryDelay = reader.Duration("queue.max-retry-delay"),
            QueueJitter = reader.Double("queue.jitter", min: 0, max: 0.9),
            QueueLifetime = reader.Duration("queue.lifetime"),
            QueueScanInterval = reader.Duration("queue.scan-interval"),
            QueueMaxConcurrentDeliveries = reader.Int("queue.max-concurrent-deliveries", min: 1, max: 100_000),
            QueueGroupCommit = reader.Boolean("queue.group-commit"),
            NotificationRelay = ReadRelay(reader),
            Tls = TlsSettings.Read(reader, baseDirectory),
            MetricsEndpoint = ReadMetricsEndpoint(reader),
            Logging = LoggingSettings.Read(reader),
        };
        return settings;
    }

    private static TimeSpan ReadGracePeriod(SettingsReader reader, Config config)
    {
        var grace = reader.Duration("shutdown.grace-period");
        const string phaseKey = "akka.coordinated-shutdown.phases.service-requests-done.timeout";
        var phase = config.HasPath(phaseKey) ? config.GetTimeSpan(phaseKey) : TimeSpan.FromSeconds(5);
        if (phase <= grace + TimeSpan.FromSeconds(5))
        {
            throw new InvalidConfigurationException(phaseKey, $"{phase.TotalSeconds} s must exceed actors-mta.shutdown.grace-period ({grace.TotalSeconds} s) by more than 5 s");
        }

        return grace;
    }

    private static Destination.SmtpRelay? ReadRelay(SettingsReader reader)
    {
        string text = reader.String("notifications.relay", allowEmpty: true);
        if (text.Length == 0)
        {
            return null;
        }

        if (!EndpointText.TryParse(text, out string host, out int port))
        {
            throw new InvalidConfigurationException(Section + ".notifications.relay", $"invalid relay \"{text}\", expected HOST:PORT or an empty string");
        }

        return new Destination.SmtpRelay(host, port);
    }

    private static IPEndPoint? ReadMetricsEndpoint(SettingsReader reader)
    {
        string text = reader.String("metrics.endpoint", allowEmpty: true);
        if (text.Length == 0)
        {
            return null;
        }

        // Port 0 is rejected because HttpListener cannot report which port the system chose.
        if (!EndpointText.TryParseIp(text, out var endpoint) || endpoint!.Port == 0)
        {
            throw new InvalidConfigurationException(Section + ".metrics.endpoint",
                $"invalid endpoint \"{text}\", expected IPv4:PORT with a port from 1 to 65535, such as 127.0.0.1:9325, or \"\" to serve no metrics");
        }

        // .NET 10's HttpListener on Linux rejects an IPv6 literal in its prefix ("Invalid port in prefix"), and
        // its wildcard binds 0.0.0.0 only, so it cannot listen on IPv6 at all.
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            throw new InvalidConfigurationException(Section + ".metrics.endpoint",
                $"the metrics server cannot listen on IPv6 (\"{text}\"); use an IPv4 address such as 127.0.0.1:{endpoint.Port}, or 0.0.0.0:{endpoint.Port} for every IPv4 address");
        }

        return endpoint;
    }

    private static List<IPEndPoint> ReadEndpoints(SettingsReader reader)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (string text in reader.StringList("listen.endpoints", minCount: 0))
        {
            if (!EndpointText.TryParseIp(text, out var endpoint))
            {
                throw new InvalidConfigurationException(Section + ".listen.endpoints", $"invalid endpoint \"{text}\", expected IP:PORT such as 127.0.0.1:2525 or [::1]:2525");
            }

            endpoints.Add(endpoint!);
        }

        return endpoints;
    }

    private static List<Route> ReadRoutes(SettingsReader reader, string baseDirectory)
    {
        string key = Section + ".routes";
        var routes = new List<Route>();
        int index = 0;
        foreach (Config item in reader.ObjectList("routes"))
        {
            string routeKey = $"{key}[{index++}]";
            var domains = item.HasPath("domains") ? item.GetStringList("domains") : null;
            string? destinationText = item.HasPath("destination") ? item.GetString("destination") : null;
            if (domains is null || domains.Count == 0 || string.IsNullOrEmpty(destinationText))
            {
                throw new InvalidConfigurationException(key, "each route needs a non-empty domains list and a destination, for example { domains = [\"example.com\"], destination = \"lmtp:/run/dovecot/lmtp\" }");
            }

            var destination = destinationText == Destination.Pipe.Keyword
                ? Destination.Pipe.Read(item, routeKey)
                : Destination.Parse(destinationText, baseDirectory, out string error) ?? throw new InvalidConfigurationException(key, error);
            if (destination is not Destination.Pipe && Destination.Pipe.OptionKeys.FirstOrDefault(item.HasPath) is { } pipeKey)
            {
                throw new InvalidConfigurationException($"{routeKey}.{pipeKey}", "is only valid on a route with destination = \"pipe\"; remove it from this route");
            }

            routes.Add(new Route(domains.ToList(), destination));
        }

        if (routes.Count == 0)
        {
            throw new InvalidConfigurationException(key, "at least one route is required");
        }

        // Routes that name the same destination share one destination actor, so they must agree on its settings.
        var conflict = routes.GroupBy(r => r.Destination.Name).FirstOrDefault(g => g.Select(r => r.Destination).Distinct().Count() > 1);
        if (conflict is not null)
        {
            throw new InvalidConfigurationException(key, $"the routes to {conflict.Key} have different settings; give them the same max-concurrency and timeout");
        }

        return routes;
    }

    private static List<IPNetwork> ReadTrustedProxies(SettingsReader reader)
    {
        var networks = new List<IPNetwork>();
        foreach (string text in reader.StringList("proxy-protocol.trusted", minCount: 0))
        {
            if (!TryParseNetwork(text.Trim(), out var network))
            {
                throw new InvalidConfigurationException(Section + ".proxy-protocol.trusted",
                    $"invalid address or network \"{text}\", expected an IP address such as 127.0.0.1 or a CIDR network such as 192.0.2.0/24 or 2001:db8::/32 with no bits set after the prefix");
            }

            networks.Add(network);
        }

        return networks;
    }

    // An address alone is a network of one; IPNetwork.TryParse wants the prefix length.
    private static bool TryParseNetwork(string text, out IPNetwork network)
    {
        network = default;
        if (text.Contains('/'))
        {
            // IPNetwork.TryParse clears bits set after the prefix; such a value is more likely a typo than intended.
            return IPNetwork.TryParse(text, out network) && IPAddress.TryParse(text[..text.IndexOf('/')], out var given) &&
                network.BaseAddress.Equals(given);
        }

        if (!(text.Contains('.') || text.Contains(':')) || !IPAddress.TryParse(text, out var address) || text.Contains('%'))
        {
            return false;
        }

        network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }
}

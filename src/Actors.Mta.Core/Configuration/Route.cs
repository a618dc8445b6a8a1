using System.Text.RegularExpressions;
using Actors.Mta.Protocol.Lmtp;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Actors.Mta.Core.Configuration;

/// <summary>Where mail for some accepted domains is delivered.</summary>
public abstract partial record Destination
{
    /// <summary>The destination as written in the configuration, used in logs and as the pool key.</summary>
    public abstract string Name { get; }

    /// <summary>An LMTP server (RFC 2033), such as Dovecot's LMTP service.</summary>
    public sealed record Lmtp(LmtpEndpoint Endpoint) : Destination
    {
        public override string Name => "lmtp:" + Endpoint;
    }

    /// <summary>Development sink: writes each message as a file per recipient. Not for production.</summary>
    public sealed record DevSink(string Directory) : Destination
    {
        public override string Name => "dev-sink:" + Directory;
    }

    /// <summary>An SMTP relay that takes delivery status notifications for senders outside the accepted domains.</summary>
    public sealed record SmtpRelay(string Host, int Port) : Destination
    {
        public override string Name => $"smtp:{Host}:{Port}";
    }

    /// <summary>
    /// A program run for each delivery with the message on its standard input, started directly from the
    /// argument vector <paramref name="Command"/> (never by a shell). See <c>Delivery.PipeDestination</c>.
    /// </summary>
    /// <param name="Command">The program's absolute path, then its arguments, which may contain placeholders.</param>
    /// <param name="MaxConcurrency">Programs of this destination running at once, at most.</param>
    /// <param name="Timeout">Time after which the program's process tree is killed and the delivery deferred.</param>
    public sealed partial record Pipe(IReadOnlyList<string> Command, int MaxConcurrency, TimeSpan Timeout) : Destination
    {
        /// <summary>The destination value that selects a pipe route.</summary>
        public const string Keyword = "pipe";

        /// <summary>The route keys that belong to a pipe destination only.</summary>
        public static readonly string[] OptionKeys = ["command", "max-concurrency", "timeout"];

        /// <summary>The placeholders allowed in arguments, each written as ${name}.</summary>
        public static readonly string[] Placeholders = ["sender", "recipient", "queue_id", "domain", "local_part"];

        /// <summary>The placeholders that make the program run once per recipient.</summary>
        public static readonly string[] RecipientPlaceholders = ["recipient", "domain", "local_part"];

        public const int DefaultMaxConcurrency = 4;
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);
        private const int MaxConcurrencyLimit = 1000;
        private static readonly TimeSpan MinTimeout = TimeSpan.FromSeconds(1);
        private static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

        /// <summary>"pipe:" and the command, with arguments that contain a space, a quote or nothing in double quotes.</summary>
        public override string Name => "pipe:" + string.Join(' ', Command.Select(QuoteIfNeeded));

        /// <summary>True when an argument names a recipient placeholder, so each recipient gets its own run.</summary>
        public bool PerRecipient =>
            Command.Skip(1).Any(argument => RecipientPlaceholders.Any(name => argument.Contains("${" + name + "}", StringComparison.Ordinal)));

        // Value equality over the argument vector; the generated equality would compare the list by reference.
        public bool Equals(Pipe? other) =>
            other is not null && Command.SequenceEqual(other.Command) && MaxConcurrency == other.MaxConcurrency && Timeout == other.Timeout;

        public override int GetHashCode() => HashCode.Combine(Name, MaxConcurrency, Timeout);

        /// <summary>Reads and validates the pipe keys of one route object; <paramref name="routeKey"/> prefixes the key in errors.</summary>
        internal static Pipe Read(Config route, string routeKey)
        {
            var command = ReadCommand(route, routeKey + ".command");
            int maxConcurrency = ReadMaxConcurrency(route, routeKey + ".max-concurrency");
            var timeout = ReadTimeout(route, routeKey + ".timeout");
            return new Pipe(command, maxConcurrency, timeout);
        }

        private static List<string> ReadCommand(Config route, string key)
        {
            const string expected = "expected a list such as [\"/usr/lib/dovecot/dovecot-lda\", \"-d\", \"${recipient}\"]: the program's absolute path, then its arguments";
            if (!route.HasPath("command"))
            {
                throw new InvalidConfigurationException(key, "missing on a route with destination = \"pipe\"; " + expected);
            }

            HoconValue value = route.GetValue("command");
            if (!value.IsArray() || value.GetArray().Any(item => !item.IsString()))
            {
                throw new InvalidConfigurationException(key, expected);
            }

            var command = value.GetStringList().ToList();
            if (command.Count == 0 || command[0].Length == 0)
            {
                throw new InvalidConfigurationException(key, "must not be empty; " + expected);
            }

            CheckProgram(command[0], key);
            foreach (string argument in command.Skip(1))
            {
                CheckPlaceholders(argument, key);
            }

            return command;
        }

        private static void CheckProgram(string program, string key)
        {
            if (!Path.IsPathFullyQualified(program))
            {
                throw new InvalidConfigurationException(key, $"the program \"{program}\" must be an absolute path, because no PATH search is done");
            }

            if (!File.Exists(program))
            {
                throw new InvalidConfigurationException(key, $"the program \"{program}\" was not found or is not a file");
            }

            // NOTE: this checks the mode bits only. Whether this server's user may run the program shows at the
            // first delivery, which then defers with 451 4.3.5 and logs the error.
            const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(program) & anyExecute) == 0)
            {
                throw new InvalidConfigurationException(key, $"the program \"{program}\" is not executable; set its execute permission");
            }
        }

        private static void CheckPlaceholders(string argument, string key)
        {
            foreach (Match match in PlaceholderSyntax().Matches(argument))
            {
                if (!match.Groups["close"].Success)
                {
                    throw new InvalidConfigurationException(key, $"unterminated placeholder in argument \"{argument}\"; write ${{name}}");
                }

                if (!Placeholders.Contains(match.Groups["name"].Value))
                {
                    throw new InvalidConfigurationException(key,
                        $"unknown placeholder \"{match.Value}\" in argument \"{argument}\"; expected one of {string.Join(", ", Placeholders.Select(p => "${" + p + "}"))}");
                }
            }
        }

        private static int ReadMaxConcurrency(Config route, string key)
        {
            if (!route.HasPath("max-concurrency"))
            {
                return DefaultMaxConcurrency;
            }

            string text = route.GetValue("max-concurrency").GetString();
            if (!int.TryParse(text, out int number) || number < 1 || number > MaxConcurrencyLimit)
            {
                throw new InvalidConfigurationException(key, $"invalid value \"{text}\", expected an integer from 1 to {MaxConcurrencyLimit}");
            }

            return number;
        }

        private static TimeSpan ReadTimeout(Config route, string key)
        {
            if (!route.HasPath("timeout"))
            {
                return DefaultTimeout;
            }

            HoconValue value = route.GetValue("timeout");
            TimeSpan timeout;
            try
            {
                timeout = value.GetTimeSpan(allowInfinite: false);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or ConfigurationException)
            {
                throw new InvalidConfigurationException(key, $"invalid duration \"{value.GetString()}\", expected a value such as 30s or 5m");
            }

            if (timeout < MinTimeout || timeout > MaxTimeout)
            {
                throw new InvalidConfigurationException(key, $"invalid duration \"{value.GetString()}\", expected from 1s to 1h");
            }

            return timeout;
        }

        private static string QuoteIfNeeded(string argument) =>
            argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\\')
                ? argument
                : "\"" + argument.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

        [GeneratedRegex(@"\$\{(?<name>[^}]*)(?<close>\})?")]
        private static partial Regex PlaceholderSyntax();
    }

    /// <summary>Parses "lmtp:HOST:PORT", "lmtp:/PATH" or "dev-sink:DIRECTORY"; returns null with an error otherwise.</summary>
    public static Destination? Parse(string text, string baseDirectory, out string error)
    {
        error = "";
        if (text.StartsWith("lmtp:", StringComparison.Ordinal))
        {
            string address = text["lmtp:".Length..];
            if (address.StartsWith('/'))
            {
                return new Lmtp(new LmtpEndpoint.Unix(address));
            }

            if (EndpointText.TryParse(address, out string host, out int port))
            {
                return new Lmtp(new LmtpEndpoint.Tcp(host, port));
            }

            error = $"invalid LMTP address \"{address}\", expected HOST:PORT or an absolute unix socket path";
            return null;
        }

        if (text.StartsWith("dev-sink:", StringComparison.Ordinal) && text.Length > "dev-sink:".Length)
        {
            return new DevSink(Path.GetFullPath(text["dev-sink:".Length..], baseDirectory));
        }

        error = $"invalid destination \"{text}\", expected lmtp:HOST:PORT, lmtp:/PATH, dev-sink:DIRECTORY or pipe with a command list";
        return null;
    }
}

/// <summary>A route: the domains it serves ("*" for every accepted domain) and their destination.</summary>
public sealed record Route(IReadOnlyList<string> Domains, Destination Destination)
{
    public bool Matches(string domain) =>
        Domains.Any(d => d == "*" || MtaSettings.DomainEquals(d, domain));
}

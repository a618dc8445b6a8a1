using Actors.Mta.Protocol.Lmtp;

namespace Actors.Mta.Core.Configuration;

/// <summary>Where mail for some accepted domains is delivered.</summary>
public abstract record Destination
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

        error = $"invalid destination \"{text}\", expected lmtp:HOST:PORT, lmtp:/PATH or dev-sink:DIRECTORY";
        return null;
    }
}

/// <summary>A route: the domains it serves ("*" for every accepted domain) and their destination.</summary>
public sealed record Route(IReadOnlyList<string> Domains, Destination Destination)
{
    public bool Matches(string domain) =>
        Domains.Any(d => d == "*" || string.Equals(d, domain, StringComparison.OrdinalIgnoreCase));
}

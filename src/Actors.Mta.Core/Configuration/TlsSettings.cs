using System.Security.Cryptography;
using Actors.Mta.Core.Sessions;

namespace Actors.Mta.Core.Configuration;

/// <summary>STARTTLS settings (RFC 3207), from the actors-mta.tls section.</summary>
/// <param name="Certificate">The server certificate and key, loaded and checked for changes.</param>
/// <param name="HandshakeTimeout">Longest time the TLS handshake after the 220 reply may take.</param>
public sealed record TlsSettings(ServerCertificate Certificate, TimeSpan HandshakeTimeout)
{
    /// <summary>
    /// Reads the section and loads the certificate. Returns null when both file names are empty, which turns
    /// STARTTLS off. Relative paths are resolved against <paramref name="baseDirectory"/>.
    /// </summary>
    internal static TlsSettings? Read(SettingsReader reader, string baseDirectory)
    {
        string certificate = reader.String("tls.certificate", allowEmpty: true);
        string key = reader.String("tls.key", allowEmpty: true);
        var handshakeTimeout = reader.Duration("tls.handshake-timeout");
        if (certificate.Length == 0 && key.Length == 0)
        {
            return null;
        }

        if (certificate.Length == 0 || key.Length == 0)
        {
            string missing = certificate.Length == 0 ? "tls.certificate" : "tls.key";
            throw new InvalidConfigurationException(MtaSettings.Section + "." + missing,
                "must not be empty when the other of tls.certificate and tls.key is set; set both PEM files, or neither to turn STARTTLS off");
        }

        string certificatePath = Path.GetFullPath(certificate, baseDirectory);
        string keyPath = Path.GetFullPath(key, baseDirectory);
        try
        {
            return new TlsSettings(ServerCertificate.Load(certificatePath, keyPath), handshakeTimeout);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidConfigurationException(MtaSettings.Section + ".tls.certificate",
                $"cannot load the certificate {certificatePath} with the key {keyPath}: {ex.Message}");
        }
    }
}

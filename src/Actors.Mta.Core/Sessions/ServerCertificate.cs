using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Actors.Mta.Core.Sessions;

/// <summary>
/// The STARTTLS server certificate, loaded from a PEM certificate file (leaf first, then any intermediates) and a
/// PEM key file. When a TLS session starts and the last check is at least <see cref="CheckInterval"/> old, the
/// files' modification times are compared with the loaded ones, and changed files are loaded again, so a renewed
/// certificate is used without a restart. Safe to use from every session at once.
/// </summary>
public sealed class ServerCertificate
{
    /// <summary>Minimum time between two checks of the files' modification times.</summary>
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(5);

    private readonly object _gate = new();
    private Loaded _current;
    private long _lastCheck;

    private ServerCertificate(string certificatePath, string keyPath, TimeSpan checkInterval, Loaded loaded)
    {
        CertificatePath = certificatePath;
        KeyPath = keyPath;
        CheckInterval = checkInterval;
        _current = loaded;
        _lastCheck = Environment.TickCount64;
    }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    public TimeSpan CheckInterval { get; }

    /// <summary>The certificate in use now.</summary>
    public X509Certificate2 Certificate => Volatile.Read(ref _current).Certificate;

    /// <summary>
    /// Loads the certificate and key. Throws <see cref="IOException"/> for a missing file and
    /// <see cref="CryptographicException"/> for a file that holds no usable certificate or key.
    /// </summary>
    public static ServerCertificate Load(string certificatePath, string keyPath, TimeSpan? checkInterval = null) =>
        new(certificatePath, keyPath, checkInterval ?? DefaultCheckInterval, Read(certificatePath, keyPath));

    /// <summary>
    /// Returns the certificate context for a new TLS session, reloading the files first when they changed.
    /// When reloading fails (a file half written during a renewal, say) the previous certificate stays in use,
    /// <paramref name="reloadError"/> says why, and the next check after <see cref="CheckInterval"/> tries again.
    /// </summary>
    public SslStreamCertificateContext Current(out string? reloadError)
    {
        reloadError = null;
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (now - _lastCheck < (long)CheckInterval.TotalMilliseconds)
            {
                return _current.Context;
            }

            _lastCheck = now;
            if (!_current.IsStale(CertificatePath, KeyPath))
            {
                return _current.Context;
            }

            try
            {
                Volatile.Write(ref _current, Read(CertificatePath, KeyPath));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                reloadError = $"cannot reload the certificate {CertificatePath} with the key {KeyPath}, keeping the previous one: {ex.Message}";
            }

            return _current.Context;
        }
    }

    private static Loaded Read(string certificatePath, string keyPath)
    {
        // The times are taken before the files are read, so a change made during the read is seen at the next check.
        var certificateTime = File.GetLastWriteTimeUtc(certificatePath);
        var keyTime = File.GetLastWriteTimeUtc(keyPath);
        if (!File.Exists(certificatePath))
        {
            throw new FileNotFoundException($"Certificate file {certificatePath} not found", certificatePath);
        }

        if (!File.Exists(keyPath))
        {
            throw new FileNotFoundException($"Key file {keyPath} not found", keyPath);
        }

        var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        if (!certificate.HasPrivateKey)
        {
            throw new CryptographicException($"The key in {keyPath} does not belong to the certificate in {certificatePath}");
        }

        // The first certificate in the file is the server's; any after it are intermediates sent with it.
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (var item in chain.Skip(1))
        {
            intermediates.Add(item);
        }

        var context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
        return new Loaded(certificate, context, certificateTime, keyTime);
    }

    private sealed record Loaded(X509Certificate2 Certificate, SslStreamCertificateContext Context, DateTime CertificateTime, DateTime KeyTime)
    {
        public bool IsStale(string certificatePath, string keyPath) =>
            File.GetLastWriteTimeUtc(certificatePath) != CertificateTime || File.GetLastWriteTimeUtc(keyPath) != KeyTime;
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>A self-signed ECDSA P-256 server certificate written as PEM files, for STARTTLS tests.</summary>
internal sealed record TestCertificate(string CertificatePath, string KeyPath, X509Certificate2 Certificate)
{
    /// <summary>Creates a certificate for <paramref name="hostName"/>, valid from yesterday for 30 days, in <paramref name="directory"/>.</summary>
    public static TestCertificate Write(string directory, string hostName = ServerProcess.TestServerName, string fileName = "server")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(hostName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        string certificatePath = Path.Combine(directory, fileName + ".crt");
        string keyPath = Path.Combine(directory, fileName + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(certificatePath, keyPath, certificate);
    }

    /// <summary>Configuration lines that make a server use this certificate for STARTTLS.</summary>
    public string[] Overrides =>
    [
        $"actors-mta.tls.certificate = \"{CertificatePath}\"",
        $"actors-mta.tls.key = \"{KeyPath}\"",
    ];
}

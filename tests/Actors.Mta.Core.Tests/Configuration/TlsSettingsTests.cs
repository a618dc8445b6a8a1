using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Core.Tests.Infrastructure;

namespace Actors.Mta.Core.Tests.Configuration;

/// <summary>The actors-mta.tls section and the certificate reload when the PEM files change.</summary>
public sealed class TlsSettingsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private static MtaSettings Load(string tls) =>
        MtaSettings.Load(TestConfig.Build("actors-mta.tls { " + tls + " }"), Path.GetTempPath());

    private static string Files(TestCertificate certificate) =>
        $"certificate = {TestConfig.Quote(certificate.CertificatePath)}\nkey = {TestConfig.Quote(certificate.KeyPath)}";

    [Fact]
    public void Load_EmptyFilesTurnTlsOff()
    {
        var settings = Load("");

        Assert.Null(settings.Tls);
    }

    [Fact]
    public void Load_ReadsCertificateAndTimeout()
    {
        var certificate = TestCertificate.Write(_temp.Path);

        var settings = Load(Files(certificate) + "\nhandshake-timeout = 7s");

        Assert.Equal(certificate.Certificate.Thumbprint, settings.Tls!.Certificate.Certificate.Thumbprint);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.Tls.HandshakeTimeout);
    }

    [Fact]
    public void Load_KeyWithoutCertificateNamesKey()
    {
        var certificate = TestCertificate.Write(_temp.Path);

        var error = Assert.Throws<InvalidConfigurationException>(() => Load($"key = {TestConfig.Quote(certificate.KeyPath)}"));

        Assert.Equal("actors-mta.tls.certificate", error.Key);
    }

    [Fact]
    public void Load_CertificateWithoutKeyNamesKey()
    {
        var certificate = TestCertificate.Write(_temp.Path);

        var error = Assert.Throws<InvalidConfigurationException>(() => Load($"certificate = {TestConfig.Quote(certificate.CertificatePath)}"));

        Assert.Equal("actors-mta.tls.key", error.Key);
    }

    [Fact]
    public void Load_MissingFileNamesCertificateKey()
    {
        string missing = Path.Combine(_temp.Path, "missing.pem");

        var error = Assert.Throws<InvalidConfigurationException>(() =>
            Load($"certificate = {TestConfig.Quote(missing)}\nkey = {TestConfig.Quote(missing)}"));

        Assert.Equal("actors-mta.tls.certificate", error.Key);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Load_KeyOfOtherCertificateRejected()
    {
        var first = TestCertificate.Write(_temp.Path, fileName: "first");
        var second = TestCertificate.Write(_temp.Path, fileName: "second");

        var error = Assert.Throws<InvalidConfigurationException>(() =>
            Load($"certificate = {TestConfig.Quote(first.CertificatePath)}\nkey = {TestConfig.Quote(second.KeyPath)}"));

        Assert.Equal("actors-mta.tls.certificate", error.Key);
    }

    [Fact]
    public void Load_ZeroHandshakeTimeoutNamesKey()
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => Load("handshake-timeout = 0s"));

        Assert.Equal("actors-mta.tls.handshake-timeout", error.Key);
    }

    [Fact]
    public void Current_ReloadsChangedFiles()
    {
        var first = TestCertificate.Write(_temp.Path);
        var certificate = ServerCertificate.Load(first.CertificatePath, first.KeyPath, TimeSpan.Zero);
        var second = TestCertificate.Write(_temp.Path);
        File.SetLastWriteTimeUtc(second.CertificatePath, DateTime.UtcNow.AddMinutes(1));

        var context = certificate.Current(out string? error);

        Assert.Null(error);
        Assert.Equal(second.Certificate.Thumbprint, context.TargetCertificate.Thumbprint);
    }

    [Fact]
    public void Current_WaitsForCheckInterval()
    {
        var first = TestCertificate.Write(_temp.Path);
        var certificate = ServerCertificate.Load(first.CertificatePath, first.KeyPath, TimeSpan.FromHours(1));
        TestCertificate.Write(_temp.Path);
        File.SetLastWriteTimeUtc(first.CertificatePath, DateTime.UtcNow.AddMinutes(1));

        var context = certificate.Current(out _);

        Assert.Equal(first.Certificate.Thumbprint, context.TargetCertificate.Thumbprint);
    }

    [Fact]
    public void Current_KeepsOldCertificateOnBadFile()
    {
        var first = TestCertificate.Write(_temp.Path);
        var certificate = ServerCertificate.Load(first.CertificatePath, first.KeyPath, TimeSpan.Zero);
        File.WriteAllText(first.CertificatePath, "-----BEGIN CERTIFICATE-----\nnot base64\n");
        File.SetLastWriteTimeUtc(first.CertificatePath, DateTime.UtcNow.AddMinutes(1));

        var context = certificate.Current(out string? error);

        Assert.Equal(first.Certificate.Thumbprint, context.TargetCertificate.Thumbprint);
        Assert.Contains("keeping the previous one", error);
    }

    public void Dispose() => _temp.Dispose();
}

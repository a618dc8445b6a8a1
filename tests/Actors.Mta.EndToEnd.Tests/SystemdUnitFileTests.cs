using System.Globalization;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Akka.Configuration;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The unit files in ops/systemd, checked by systemd-analyze. Copies are checked with ExecStart pointing at the
/// built apphost, because verify rejects an ExecStart that is not an executable on this machine.
/// </summary>
public sealed partial class SystemdUnitFileTests
{
    private const string InstalledExecutable = "/opt/actors-mta/actors-mta";
    private const double MaxExposure = 2.0;

    private readonly ITestOutputHelper output;

    public SystemdUnitFileTests(ITestOutputHelper output) => this.output = output;

    private static string UnitDirectory => Path.Combine(RepositoryLayout.Root, "ops", "systemd");

    /// <summary>The apphost next to the host assembly, the file the unit's ExecStart runs once published.</summary>
    private static string Apphost => Path.Combine(Path.GetDirectoryName(RepositoryLayout.HostAssemblyPath)!, "actors-mta");

    [Fact]
    public void ServiceUnit_ExecStartIsPublishedApphost()
    {
        var service = File.ReadAllText(Path.Combine(UnitDirectory, "actors-mta.service"));

        Assert.Contains($"\nExecStart={InstalledExecutable} --config /etc/actors-mta/akka.hocon\n", service);
        Assert.True(File.Exists(Apphost), $"The build output has no apphost at {Apphost}.");
    }

    [Fact]
    public async Task Units_PassSystemdAnalyzeVerify()
    {
        var systemdAnalyze = ExternalTool.Locate("systemd-analyze", "systemd");
        var directory = CopyUnitsWithBuiltApphost();
        try
        {
            var result = await ExternalTool.RunAsync(
                systemdAnalyze,
                ["verify", Path.Combine(directory, "actors-mta.socket"), Path.Combine(directory, "actors-mta.service")],
                TimeSpan.FromSeconds(60));
            output.WriteLine(result.Transcript);

            Assert.True(result.ExitCode == 0, result.Transcript);
            Assert.True(result.Stderr.Trim().Length == 0, result.Transcript);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ServiceUnit_SecurityExposureBelowTwo()
    {
        var systemdAnalyze = ExternalTool.Locate("systemd-analyze", "systemd");
        var directory = CopyUnitsWithBuiltApphost();
        try
        {
            var result = await ExternalTool.RunAsync(
                systemdAnalyze,
                ["security", "--offline=true", "--no-pager", Path.Combine(directory, "actors-mta.service")],
                TimeSpan.FromSeconds(60));
            output.WriteLine(result.Transcript);

            Assert.True(result.ExitCode == 0, result.Transcript);
            var match = ExposurePattern().Match(result.Stdout);
            Assert.True(match.Success, $"No 'Overall exposure level' line.\n{result.Transcript}");
            var exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(exposure < MaxExposure, $"Exposure {exposure} is not below {MaxExposure}.\n{result.Transcript}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// The production example must stay a complete configuration: every key is required, so a key added to
    /// the root akka.hocon and missing from this copy fails here.
    /// </summary>
    [Fact]
    public void ProductionConfig_LoadsWithDovecotRoute()
    {
        var path = Path.Combine(RepositoryLayout.Root, "ops", "akka.production.hocon");
        var settings = MtaSettings.Load(ConfigurationFactory.ParseString(File.ReadAllText(path)), "/var/lib/actors-mta");

        Assert.Equal("/var/lib/actors-mta/spool", settings.SpoolDirectory);
        Assert.Equal(["example.com", "example.org"], settings.AcceptedDomains);
        var route = Assert.Single(settings.Routes);
        Assert.Equal(["*"], route.Domains);
        var lmtp = Assert.IsType<Destination.Lmtp>(route.Destination);
        Assert.EndsWith(":/run/dovecot/lmtp", lmtp.Name);
    }

    [GeneratedRegex(@"Overall exposure level for actors-mta\.service: (\d+\.\d+)")]
    private static partial Regex ExposurePattern();

    /// <summary>Copies both units to a new temporary directory, with the service's ExecStart rewritten to <see cref="Apphost"/>.</summary>
    private static string CopyUnitsWithBuiltApphost()
    {
        var directory = Directory.CreateTempSubdirectory("actors-mta-units-").FullName;
        File.Copy(Path.Combine(UnitDirectory, "actors-mta.socket"), Path.Combine(directory, "actors-mta.socket"));
        var service = File.ReadAllText(Path.Combine(UnitDirectory, "actors-mta.service"));
        File.WriteAllText(
            Path.Combine(directory, "actors-mta.service"),
            service.Replace($"ExecStart={InstalledExecutable} ", $"ExecStart={Apphost} ", StringComparison.Ordinal));
        return directory;
    }
}

using System.Net;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Tests.Infrastructure;
using Akka.Configuration;

namespace Actors.Mta.Core.Tests.Configuration;

/// <summary>The settings that protect a server on the open Internet: session limits, timeouts, connection limits, PROXY protocol.</summary>
public sealed class DefenceSettingsTests
{
    private static MtaSettings Load(string overrides = "") => MtaSettings.Load(TestConfig.Build(overrides), Path.GetTempPath());

    [Fact]
    public void Load_ShippedDefaults()
    {
        var settings = Load();

        Assert.Equal(65536, settings.MaxDataLineLength);
        Assert.Equal(131072, settings.MemoryMessageSize);
        Assert.Equal(1000, settings.MaxTransactionsPerSession);
        Assert.Equal(100000, settings.MaxCommandsPerSession);
        Assert.Equal(20, settings.MaxErrorsPerSession);
        Assert.Equal(500, settings.MinDataRate);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.MinDataRateWindow);
        Assert.Equal(500, settings.MaxConnections);
        Assert.Equal(20, settings.MaxConnectionsPerClient);
        Assert.Equal(120, settings.MaxConnectionRatePerClient);
        Assert.Equal(TimeSpan.FromMinutes(1), settings.FirstCommandTimeout);
        Assert.Equal(TimeSpan.FromHours(1), settings.SessionLifetime);
        Assert.Equal(TimeSpan.Zero, settings.GreetingDelay);
        Assert.Empty(settings.ProxyProtocolTrusted);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.ProxyProtocolHeaderTimeout);
    }

    [Theory]
    [InlineData("limits", "max-data-line-length")]
    [InlineData("limits", "memory-message-size")]
    [InlineData("limits", "max-transactions-per-session")]
    [InlineData("limits", "max-commands-per-session")]
    [InlineData("limits", "max-errors-per-session")]
    [InlineData("limits", "min-data-rate")]
    [InlineData("limits", "min-data-rate-window")]
    [InlineData("limits", "max-connections")]
    [InlineData("limits", "max-connections-per-client")]
    [InlineData("limits", "max-connection-rate-per-client")]
    [InlineData("timeouts", "first-command")]
    [InlineData("timeouts", "session-lifetime")]
    [InlineData("smtp", "greeting-delay")]
    [InlineData("proxy-protocol", "trusted")]
    [InlineData("proxy-protocol", "header-timeout")]
    public void Load_MissingKeyIsNamed(string section, string name)
    {
        var config = WithoutKey(section, name);

        var error = Assert.Throws<InvalidConfigurationException>(() => MtaSettings.Load(config, Path.GetTempPath()));

        Assert.Equal($"actors-mta.{section}.{name}", error.Key);
    }

    [Theory]
    [InlineData("limits.max-data-line-length = 999")]
    [InlineData("limits.memory-message-size = -1")]
    [InlineData("limits.memory-message-size = 16777217")]
    [InlineData("limits.max-transactions-per-session = 0")]
    [InlineData("limits.max-commands-per-session = 9")]
    [InlineData("limits.max-errors-per-session = 0")]
    [InlineData("limits.min-data-rate = -1")]
    [InlineData("limits.min-data-rate-window = 0s")]
    [InlineData("limits.max-connections = 0")]
    [InlineData("limits.max-connections-per-client = -1")]
    [InlineData("limits.max-connection-rate-per-client = lots")]
    [InlineData("timeouts.first-command = 0s")]
    [InlineData("timeouts.session-lifetime = forever")]
    [InlineData("smtp.greeting-delay = -1s")]
    [InlineData("proxy-protocol.trusted = [\"proxy.example\"]")]
    [InlineData("proxy-protocol.trusted = [\"192.0.2.1/24\"]")]
    [InlineData("proxy-protocol.trusted = [\"192.0.2.0/33\"]")]
    [InlineData("proxy-protocol.trusted = [\"1\"]")]
    [InlineData("proxy-protocol.trusted = \"127.0.0.1\"")]
    [InlineData("proxy-protocol.header-timeout = 0s")]
    public void Load_InvalidValueIsNamed(string line)
    {
        string key = "actors-mta." + line[..line.IndexOf(' ')];

        var error = Assert.Throws<InvalidConfigurationException>(() => Load("actors-mta." + line));

        Assert.Equal(key, error.Key);
    }

    [Fact]
    public void Load_ZeroTurnsOptionalLimitsOff()
    {
        var settings = Load("""
            actors-mta.smtp.greeting-delay = 0s
            actors-mta.limits.min-data-rate = 0
            actors-mta.limits.max-connections-per-client = 0
            actors-mta.limits.max-connection-rate-per-client = 0
            """);

        Assert.Equal(TimeSpan.Zero, settings.GreetingDelay);
        Assert.Equal(0, settings.MinDataRate);
        Assert.Equal(0, settings.MaxConnectionsPerClient);
        Assert.Equal(0, settings.MaxConnectionRatePerClient);
    }

    [Fact]
    public void Load_TrustedProxiesTakeAddressesAndNetworks()
    {
        var settings = Load("actors-mta.proxy-protocol.trusted = [\"127.0.0.1\", \"192.0.2.0/24\", \"2001:db8::/32\", \"::1\"]");
        var trusted = settings.ProxyProtocolTrusted;

        Assert.Equal(4, trusted.Count);
        Assert.Contains(trusted, n => n.Contains(IPAddress.Loopback));
        Assert.DoesNotContain(trusted, n => n.Contains(IPAddress.Parse("127.0.0.2")));
        Assert.Contains(trusted, n => n.Contains(IPAddress.Parse("192.0.2.200")));
        Assert.Contains(trusted, n => n.Contains(IPAddress.Parse("2001:db8:ffff::1")));
        Assert.Contains(trusted, n => n.Contains(IPAddress.IPv6Loopback));
    }

    [Theory]
    [InlineData("example.com", "EXAMPLE.COM", true)]
    [InlineData("example.com", "Example.Com", true)]
    [InlineData("bücher.example", "bücher.example", true)]
    [InlineData("mail.example", "maıl.example", false)]
    [InlineData("example.se", "example.ſe", false)]
    [InlineData("bücher.example", "BÜCHER.example", false)]
    [InlineData("example.com", "example.com.", false)]
    public void DomainEquals_IgnoresOnlyAsciiCase(string accepted, string given, bool expected)
    {
        Assert.Equal(expected, MtaSettings.DomainEquals(accepted, given));
    }

    // Builds the root configuration with the line "NAME = ..." of the given section removed.
    private static Config WithoutKey(string section, string name)
    {
        string text = TestConfig.RootText;
        var sectionStart = Regex.Match(text, @"^\s*" + Regex.Escape(section) + @"\s*\{", RegexOptions.Multiline);
        Assert.True(sectionStart.Success, $"section {section} not found in akka.hocon");

        var line = new Regex(@"^[ \t]*" + Regex.Escape(name) + @"[ \t]*=.*(\r?\n)", RegexOptions.Multiline);
        var match = line.Match(text, sectionStart.Index);
        Assert.True(match.Success, $"key {name} not found in akka.hocon");
        return ConfigurationFactory.ParseString(text.Remove(match.Index, match.Length));
    }
}

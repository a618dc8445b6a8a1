using System.Net;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Tests.Infrastructure;
using Akka.Configuration;
using Serilog.Events;

namespace Actors.Mta.Core.Tests.Configuration;

/// <summary>Loading the metrics and logging sections of actors-mta.</summary>
public sealed class ObservabilitySettingsTests
{
    // Removes the first match of pattern after the "section {" line, as if that key was never written.
    private static Config RootWithout(string section, string pattern)
    {
        string text = TestConfig.RootText;
        var start = Regex.Match(text, @"^\s*" + Regex.Escape(section) + @"\s*\{", RegexOptions.Multiline);
        Assert.True(start.Success, $"section {section} not found in akka.hocon");

        var match = new Regex(pattern, RegexOptions.Multiline).Match(text, start.Index + start.Length);
        Assert.True(match.Success, $"{pattern} not found in section {section} of akka.hocon");
        return ConfigurationFactory.ParseString(text.Remove(match.Index, match.Length));
    }

    [Fact]
    public void Load_MetricsEndpointDefaultIsLoopback()
    {
        var settings = TestConfig.Load();

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9325), settings.MetricsEndpoint);
    }

    [Fact]
    public void Load_EmptyMetricsEndpointServesNone()
    {
        var settings = TestConfig.Load("actors-mta.metrics.endpoint = \"\"");

        Assert.Null(settings.MetricsEndpoint);
    }

    [Fact]
    public void Load_MetricsEndpointAcceptsEveryAddress()
    {
        var settings = TestConfig.Load("actors-mta.metrics.endpoint = \"0.0.0.0:9400\"");

        Assert.Equal(new IPEndPoint(IPAddress.Any, 9400), settings.MetricsEndpoint);
    }

    [Fact]
    public void Load_LoggingDefaults()
    {
        var logging = TestConfig.Load().Logging;

        Assert.Equal(LogFormat.Text, logging.Format);
        Assert.Equal(LogEventLevel.Information, logging.MinimumLevel);
        Assert.Equal(new Dictionary<string, LogEventLevel> { ["Microsoft"] = LogEventLevel.Warning }, logging.Overrides);
    }

    [Fact]
    public void Load_LoggingJsonAndLevelsAnyCase()
    {
        var logging = TestConfig.Load("""
            actors-mta.logging.format = json
            actors-mta.logging.minimum-level = Debug
            actors-mta.logging.overrides { "Akka.Actor" = ERROR, Akka = warning }
            """).Logging;

        Assert.Equal(LogFormat.Json, logging.Format);
        Assert.Equal(LogEventLevel.Debug, logging.MinimumLevel);
        Assert.Equal(LogEventLevel.Error, logging.Overrides["Akka.Actor"]);
        Assert.Equal(LogEventLevel.Warning, logging.Overrides["Akka"]);
        Assert.Equal(LogEventLevel.Warning, logging.Overrides["Microsoft"]);
    }

    [Fact]
    public void Load_EmptyOverridesSetNone()
    {
        var config = RootWithout("logging", @"^\s*""Microsoft"" = warning\r?\n");

        var logging = MtaSettings.Load(config, Path.GetTempPath()).Logging;

        Assert.Empty(logging.Overrides);
    }

    [Theory]
    [InlineData("metrics", @"^[ \t]*endpoint[ \t]*=.*\r?\n", "actors-mta.metrics.endpoint")]
    [InlineData("logging", @"^[ \t]*format[ \t]*=.*\r?\n", "actors-mta.logging.format")]
    [InlineData("logging", @"^[ \t]*minimum-level[ \t]*=.*\r?\n", "actors-mta.logging.minimum-level")]
    [InlineData("logging", @"^[ \t]*overrides[ \t]*\{[^}]*\}\r?\n", "actors-mta.logging.overrides")]
    public void Load_MissingKeyIsNamed(string section, string pattern, string key)
    {
        var config = RootWithout(section, pattern);

        var error = Assert.Throws<InvalidConfigurationException>(() => MtaSettings.Load(config, Path.GetTempPath()));

        Assert.Equal(key, error.Key);
    }

    [Theory]
    [InlineData("actors-mta.metrics.endpoint = \"localhost:9325\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.metrics.endpoint = \"127.0.0.1:0\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.metrics.endpoint = \"127.0.0.1\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.metrics.endpoint = \"127.0.0.1:70000\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.metrics.endpoint = \"[::1]:9325\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.metrics.endpoint = \"[::]:9325\"", "actors-mta.metrics.endpoint")]
    [InlineData("actors-mta.logging.format = xml", "actors-mta.logging.format")]
    [InlineData("actors-mta.logging.minimum-level = loud", "actors-mta.logging.minimum-level")]
    [InlineData("actors-mta.logging.minimum-level = 2", "actors-mta.logging.minimum-level")]
    [InlineData("actors-mta.logging.overrides = warning", "actors-mta.logging.overrides")]
    [InlineData("actors-mta.logging.overrides { Akka = quiet }", "actors-mta.logging.overrides.\"Akka\"")]
    [InlineData("actors-mta.logging.overrides { Akka.Actor = error }", "actors-mta.logging.overrides.\"Akka\"")]
    public void Load_InvalidValueIsNamed(string overrides, string key)
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => TestConfig.Load(overrides));

        Assert.Equal(key, error.Key);
    }
}

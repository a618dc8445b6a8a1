using System.Net;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Tests.Infrastructure;
using Akka.Configuration;

namespace Actors.Mta.Core.Tests.Configuration;

/// <summary>Loading the actors-mta section: the shipped akka.hocon loads, and each missing or invalid key is named.</summary>
public sealed class MtaSettingsTests
{
    private static readonly string BaseDirectory = Path.Combine(Path.GetTempPath(), "actors-mta-base");

    private static MtaSettings Load(string overrides = "") => MtaSettings.Load(TestConfig.Build(overrides), BaseDirectory);

    // Builds the root configuration with the line "NAME = ..." of the given section removed, as if the key was never written.
    private static Config WithoutKey(string section, string name)
    {
        string text = TestConfig.RootText;
        var sectionStart = Regex.Match(text, @"^\s*" + Regex.Escape(section) + @"\s*\{", RegexOptions.Multiline);
        int from = section.Length == 0 ? 0 : sectionStart.Index;
        Assert.True(section.Length == 0 || sectionStart.Success, $"section {section} not found in akka.hocon");

        var line = new Regex(@"^[ \t]*" + Regex.Escape(name) + @"[ \t]*=.*(\r?\n)", RegexOptions.Multiline);
        var match = line.Match(text, from);
        Assert.True(match.Success, $"key {name} not found in akka.hocon");
        return ConfigurationFactory.ParseString(text.Remove(match.Index, match.Length));
    }

    [Fact]
    public void Load_RootConfigSucceeds()
    {
        var settings = Load();

        Assert.Equal(100, settings.MaxRecipients);
        Assert.Equal(512, settings.MaxCommandLineLength);
        Assert.Equal(["localhost"], settings.AcceptedDomains);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 2525)], settings.ListenEndpoints);
    }

    [Fact]
    public void Load_ResolvesRelativePathsAgainstBase()
    {
        var settings = Load();

        Assert.Equal(Path.Combine(BaseDirectory, "var", "spool"), settings.SpoolDirectory);
        var sink = Assert.IsType<Destination.DevSink>(settings.RouteFor("localhost").Destination);
        Assert.Equal(Path.Combine(BaseDirectory, "var", "dev-sink"), sink.Directory);
    }

    [Fact]
    public void Load_EmptyServerNameUsesHostName()
    {
        var settings = Load();

        Assert.Equal(Dns.GetHostName(), settings.ServerName);
    }

    [Fact]
    public void Load_OverridesTakePrecedence()
    {
        var settings = Load("actors-mta.limits.max-recipients = 250\nactors-mta.timeouts.command = 90s");

        Assert.Equal(250, settings.MaxRecipients);
        Assert.Equal(TimeSpan.FromSeconds(90), settings.CommandTimeout);
    }

    [Fact]
    public void Load_AcceptsPortZero()
    {
        var settings = Load("actors-mta.listen.endpoints = [\"127.0.0.1:0\", \"[::1]:0\"]");

        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.IPv6Loopback, 0)], settings.ListenEndpoints);
    }

    [Fact]
    public void Load_ParsesLmtpDestinations()
    {
        var settings = Load("""
            actors-mta.accepted-domains = ["example.com", "example.org"]
            actors-mta.routes = [
              { domains = ["example.com"], destination = "lmtp:127.0.0.1:24" }
              { domains = ["*"], destination = "lmtp:/run/dovecot/lmtp" }
            ]
            """);

        Assert.Equal("lmtp:127.0.0.1:24", settings.RouteFor("EXAMPLE.COM").Destination.Name);
        Assert.Equal("lmtp:unix:/run/dovecot/lmtp", settings.RouteFor("example.org").Destination.Name);
    }

    [Theory]
    [InlineData("limits", "max-recipients", "actors-mta.limits.max-recipients")]
    [InlineData("limits", "max-message-size", "actors-mta.limits.max-message-size")]
    [InlineData("limits", "max-command-line-length", "actors-mta.limits.max-command-line-length")]
    [InlineData("smtp", "bare-line-endings", "actors-mta.smtp.bare-line-endings")]
    [InlineData("timeouts", "command", "actors-mta.timeouts.command")]
    [InlineData("timeouts", "data-block", "actors-mta.timeouts.data-block")]
    [InlineData("listen", "backlog", "actors-mta.listen.backlog")]
    [InlineData("listen", "endpoints", "actors-mta.listen.endpoints")]
    [InlineData("lmtp", "idle-timeout", "actors-mta.lmtp.idle-timeout")]
    [InlineData("actors-mta", "spool-directory", "actors-mta.spool-directory")]
    [InlineData("actors-mta", "accepted-domains", "actors-mta.accepted-domains")]
    public void Load_MissingKeyIsNamed(string section, string name, string key)
    {
        var config = WithoutKey(section, name);

        var error = Assert.Throws<InvalidConfigurationException>(() => MtaSettings.Load(config, BaseDirectory));

        Assert.Equal(key, error.Key);
        Assert.Contains(key, error.Message);
    }

    [Theory]
    [InlineData("actors-mta.limits.max-recipients = 5", "actors-mta.limits.max-recipients")]
    [InlineData("actors-mta.limits.max-recipients = many", "actors-mta.limits.max-recipients")]
    [InlineData("actors-mta.limits.max-command-line-length = 100", "actors-mta.limits.max-command-line-length")]
    [InlineData("actors-mta.limits.max-message-size = 10", "actors-mta.limits.max-message-size")]
    [InlineData("actors-mta.smtp.bare-line-endings = ignore", "actors-mta.smtp.bare-line-endings")]
    [InlineData("actors-mta.timeouts.command = soon", "actors-mta.timeouts.command")]
    [InlineData("actors-mta.timeouts.command = 0s", "actors-mta.timeouts.command")]
    [InlineData("actors-mta.lmtp.reply-timeout = 5 parsecs", "actors-mta.lmtp.reply-timeout")]
    [InlineData("actors-mta.listen.endpoints = [\"localhost:25\"]", "actors-mta.listen.endpoints")]
    [InlineData("actors-mta.listen.endpoints = [\"127.0.0.1:70000\"]", "actors-mta.listen.endpoints")]
    [InlineData("actors-mta.listen.endpoints = [\"127.0.0.1\"]", "actors-mta.listen.endpoints")]
    [InlineData("actors-mta.accepted-domains = []", "actors-mta.accepted-domains")]
    [InlineData("actors-mta.accepted-domains = [\"localhost\", \"example.com\"]", "actors-mta.routes")]
    [InlineData("actors-mta.routes = []", "actors-mta.routes")]
    [InlineData("actors-mta.routes = [{ domains = [\"*\"], destination = \"smtp:mail.example\" }]", "actors-mta.routes")]
    [InlineData("actors-mta.routes = [{ domains = [\"*\"], destination = \"lmtp:no-port\" }]", "actors-mta.routes")]
    [InlineData("actors-mta.routes = [{ domains = [\"*\"], destination = \"dev-sink:\" }]", "actors-mta.routes")]
    [InlineData("actors-mta.routes = [{ destination = \"dev-sink:var/sink\" }]", "actors-mta.routes")]
    public void Load_InvalidValueIsNamed(string overrides, string key)
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => Load(overrides));

        Assert.Equal(key, error.Key);
    }
}

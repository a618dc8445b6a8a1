using System.Net;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The README's first run: the root akka.hocon unchanged, which listens on 127.0.0.1:2525 and writes mail for
/// localhost to the development sink var/dev-sink under the working directory.
/// </summary>
[Collection(DefaultPortCollection.Name)]
[Trait("Port", "2525")]
public sealed class DefaultConfigurationTests
{
    private const int DefaultPort = 2525;

    private readonly ITestOutputHelper output;

    public DefaultConfigurationTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public async Task RootConfig_SwaksMailLandsInDevSink()
    {
        AssertPortFree(DefaultPort);
        var workingDirectory = Directory.CreateTempSubdirectory("actors-mta-default-").FullName;
        var body = $"Default configuration check {Guid.NewGuid():N}";
        try
        {
            await using var server = await ServerProcess.LaunchAsync(
                DefaultPort, RepositoryLayout.RootConfigPath, workingDirectory);
            try
            {
                var swaks = ExternalTool.Locate("swaks", "swaks");
                var result = await ExternalTool.RunAsync(
                    swaks,
                    new[]
                    {
                        "--server", $"127.0.0.1:{DefaultPort}", "--helo", "swaks.e2e.test", "--from", "dev@example.net",
                        "--to", "someone@localhost", "--timeout", "60", "--body", body,
                    },
                    TimeSpan.FromSeconds(120));
                output.WriteLine(result.Transcript);

                Assert.True(result.ExitCode == 0, result.Transcript);
                var sink = Path.Combine(workingDirectory, "var", "dev-sink");
                Assert.True(Directory.Exists(sink), $"{sink} was not created.");

                var files = Directory.GetFiles(sink, "*", SearchOption.AllDirectories);
                var delivered = files.Where(f => File.ReadAllText(f, Encoding.UTF8).Contains(body)).ToList();
                Assert.True(delivered.Count == 1, $"Files under {sink}: {string.Join(", ", files)}");
                Assert.Contains("someone@localhost", Path.GetRelativePath(sink, delivered[0]));
            }
            finally
            {
                output.WriteLine("--- server output");
                output.WriteLine(server.Output.ToString());
            }
        }
        finally
        {
            Directory.Delete(workingDirectory, recursive: true);
        }
    }

    /// <summary>Fails early when another program has bound the port, because it would then reply in the server's place.</summary>
    private static void AssertPortFree(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException e)
        {
            Assert.Fail($"Port {port} on 127.0.0.1 is in use ({e.SocketErrorCode}); stop the program that listens on it.");
        }
    }
}

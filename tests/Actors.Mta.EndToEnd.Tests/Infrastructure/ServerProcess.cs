using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The actors-mta host running as a child process with a configuration made of the repository's akka.hocon and
/// appended override lines (HOCON lets a later definition of a key replace an earlier one).
/// </summary>
public sealed class ServerProcess : IAsyncDisposable, IDisposable
{
    /// <summary>Host name the tests configure, so the server's Received field can be recognised.</summary>
    public const string TestServerName = "mx.e2e.test";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process process;
    private readonly string? ownedDirectory;

    private ServerProcess(Process process, OutputLog output, int port, string configPath, string? ownedDirectory)
    {
        this.process = process;
        this.ownedDirectory = ownedDirectory;
        Output = output;
        Port = port;
        ConfigPath = configPath;
    }

    /// <summary>Everything the server wrote to stdout and stderr.</summary>
    public OutputLog Output { get; }

    /// <summary>SMTP port on 127.0.0.1.</summary>
    public int Port { get; }

    public string ConfigPath { get; }

    public bool HasExited => process.HasExited;

    public int ProcessId => process.Id;

    /// <summary>
    /// Override lines for a server on a free port that accepts example.com and example.org and delivers all of it
    /// to <paramref name="lmtpDestination"/>; <paramref name="spoolDirectory"/> keeps its files out of the tree.
    /// </summary>
    public static List<string> OverridesFor(int port, string lmtpDestination, string spoolDirectory) => new()
    {
        $"actors-mta.server-name = \"{TestServerName}\"",
        $"actors-mta.listen.endpoints = [\"127.0.0.1:{port}\"]",
        $"actors-mta.spool-directory = \"{spoolDirectory}\"",
        "actors-mta.accepted-domains = [\"example.com\", \"example.org\"]",
        $"actors-mta.routes = [{{ domains = [\"*\"], destination = \"{lmtpDestination}\" }}]",
        // Tests run servers in parallel, so none may take the fixed default metrics port.
        "actors-mta.metrics.endpoint = \"\"",
    };

    /// <summary>
    /// Starts a server on a free port that delivers to <paramref name="lmtpDestination"/>, with
    /// <paramref name="extraOverrides"/> appended after the standard ones.
    /// </summary>
    public static Task<ServerProcess> StartAsync(string lmtpDestination, params string[] extraOverrides)
    {
        var directory = Directory.CreateTempSubdirectory("actors-mta-server-").FullName;
        var port = FreeTcpPort.Next();
        var overrides = OverridesFor(port, lmtpDestination, Path.Combine(directory, "spool"));
        overrides.AddRange(extraOverrides);
        return StartAsync(port, overrides, directory, ownsDirectory: true);
    }

    /// <summary>
    /// Writes the root akka.hocon plus <paramref name="overrides"/> to <paramref name="workingDirectory"/>/e2e.hocon,
    /// starts the host there with --config, and waits for the 220 greeting on <paramref name="port"/>.
    /// </summary>
    /// <param name="ownsDirectory">When true, disposing the server deletes <paramref name="workingDirectory"/>.</param>
    public static async Task<ServerProcess> StartAsync(
        int port, IEnumerable<string> overrides, string workingDirectory, bool ownsDirectory)
    {
        var configPath = Path.Combine(workingDirectory, "e2e.hocon");
        var config = new StringBuilder(File.ReadAllText(RepositoryLayout.RootConfigPath));
        config.Append("\n# Overrides appended by the end-to-end tests\n");
        foreach (var line in overrides)
        {
            config.Append(line).Append('\n');
        }

        await File.WriteAllTextAsync(configPath, config.ToString());
        return await LaunchAsync(port, configPath, workingDirectory, ownsDirectory ? workingDirectory : null);
    }

    /// <summary>Starts the host with an existing configuration file and waits for the greeting on <paramref name="port"/>.</summary>
    public static async Task<ServerProcess> LaunchAsync(
        int port, string configPath, string workingDirectory, string? ownedDirectory = null)
    {
        var hostDll = RepositoryLayout.HostAssemblyPath;
        var startInfo = new ProcessStartInfo(RepositoryLayout.DotnetPath)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(hostDll);
        startInfo.ArgumentList.Add("--config");
        startInfo.ArgumentList.Add(configPath);

        // Plain console output keeps the captured log readable.
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["NO_COLOR"] = "1";

        var output = new OutputLog();
        var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Failed to start {startInfo.FileName} {hostDll}");
        output.Attach(process);
        var server = new ServerProcess(process, output, port, configPath, ownedDirectory);

        try
        {
            await server.WaitForGreetingAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>
    /// Sends SIGKILL, so the server gets no chance to flush, close or clean up (as in a crash), and waits until
    /// it has exited. The working directory and its spool are kept, so a new server can start on them.
    /// </summary>
    public void Kill()
    {
        // On Unix, Process.Kill() sends SIGKILL to this process only.
        process.Kill();
        process.WaitForExit(TimeSpan.FromSeconds(10));
    }

    /// <summary>Sends SIGTERM, as systemd does to stop a service, and returns the exit code, or null if still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> TerminateAsync(TimeSpan timeout)
    {
        if (Posix.Kill(process.Id, Posix.SignalTerminate) != 0)
        {
            throw new InvalidOperationException($"kill -TERM {process.Id} failed");
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Run(Dispose);
    }

    /// <summary>Stops the server (SIGTERM, then SIGKILL after 15 s) and deletes its directory if it owns one.</summary>
    public void Dispose()
    {
        ProcessStopper.Stop(process, TimeSpan.FromSeconds(15));
        process.Dispose();
        if (ownedDirectory is not null)
        {
            try
            {
                Directory.Delete(ownedDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temporary directory is harmless.
            }
        }
    }

    private async Task WaitForGreetingAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"The server exited with code {process.ExitCode} during start-up (config {ConfigPath}).\n{Output}");
            }

            try
            {
                await using var client = await SmtpLineClient.ConnectAsync(Port);
                var greeting = await client.ReadReplyAsync();
                if (greeting.Code == 220)
                {
                    await client.SendLineAsync("QUIT");
                    return;
                }

                throw new InvalidOperationException($"The server greeted with '{greeting}' instead of 220.\n{Output}");
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"The server did not greet on 127.0.0.1:{Port} within {StartTimeout.TotalSeconds} s (config {ConfigPath}).\n{Output}");
            }

            await Task.Delay(250);
        }
    }
}

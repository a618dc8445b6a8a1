using System.Net;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The server on a privileged port without privilege: systemd-socket-activate binds the port as root and
/// passes the socket (named smtp) the way systemd does, and setpriv starts the server as the user nobody with
/// no capabilities. The configured listen endpoint is a free unprivileged port, so the test can tell that the
/// server did not bind it: had it tried, it would have succeeded.
/// </summary>
public sealed class SystemdSocketActivationTests
{
    private const string UnprivilegedUser = "nobody";
    private const string UnprivilegedGroup = "nogroup";

    /// <summary>rwxr-xr-x (755).</summary>
    private const UnixFileMode WorldReadableDirectory = (UnixFileMode)0b111_101_101;

    private readonly ITestOutputHelper output;

    public SystemdSocketActivationTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public async Task SocketActivation_NobodyServesPrivilegedPort()
    {
        Assert.True(Posix.GetEffectiveUserId() == 0, "This test binds a privileged port and changes user, so it must run as root.");
        var socketActivate = ExternalTool.Locate("systemd-socket-activate", "systemd");
        var setpriv = ExternalTool.Locate("setpriv", "util-linux");
        // The server runs as nobody, so the dotnet installation must be readable by every user, as a system-wide
        // one (/usr/share/dotnet, /usr/lib/dotnet) is.
        var dotnet = Path.IsPathRooted(RepositoryLayout.DotnetPath) ? RepositoryLayout.DotnetPath : ExternalTool.Locate("dotnet", "dotnet-sdk-10.0");
        int uid = ReadId("/etc/passwd", UnprivilegedUser);
        int gid = ReadId("/etc/group", UnprivilegedGroup);

        var port = FreePrivilegedPort();
        var configuredPort = FreeTcpPort.Next();
        var directory = Directory.CreateTempSubdirectory("actors-mta-activation-").FullName;
        LaunchedProcess? launcher = null;
        try
        {
            // The user nobody must read the server's files and write its spool. The build output is copied
            // because the repository may sit under a directory that only root can enter.
            File.SetUnixFileMode(directory, WorldReadableDirectory);
            var app = Path.Combine(directory, "app");
            CopyDirectory(Path.GetDirectoryName(RepositoryLayout.HostAssemblyPath)!, app);
            var spool = CreateOwnedDirectory(Path.Combine(directory, "spool"), uid, gid);
            var sink = CreateOwnedDirectory(Path.Combine(directory, "sink"), uid, gid);
            var configPath = Path.Combine(directory, "activation.hocon");
            SystemdTestConfig.Write(configPath, ServerProcess.OverridesFor(configuredPort, $"dev-sink:{sink}", spool));

            string[] arguments =
            [
                "-l", $"127.0.0.1:{port}", "--fdname=smtp",
                // systemd-socket-activate passes the program only LISTEN_* and the variables named with -E.
                "-E", $"HOME={directory}", "-E", "DOTNET_CLI_TELEMETRY_OPTOUT=1", "-E", "NO_COLOR=1",
                setpriv, $"--reuid={UnprivilegedUser}", $"--regid={UnprivilegedGroup}", "--clear-groups", "--inh-caps=-all",
                dotnet, Path.Combine(app, Path.GetFileName(RepositoryLayout.HostAssemblyPath)), "--config", configPath,
            ];
            launcher = LaunchedProcess.Start(socketActivate, arguments, directory, new Dictionary<string, string?>());
            await launcher.WaitForOutputAsync($"Listening on 127.0.0.1:{port}", TimeSpan.FromSeconds(10));

            // systemd-socket-activate execs the server on the first connection, so this one starts it.
            var body = $"Socket activation check {Guid.NewGuid():N}";
            var transcript = await SendMessageAsync(port, body);
            output.WriteLine(transcript);

            var delivered = await WaitForFileContainingAsync(sink, body, TimeSpan.FromSeconds(10));
            Assert.True(delivered is not null, $"No file under {sink} contains the message body.\n{transcript}\n{launcher.Output}");
            Assert.Contains("alice@example.com", Path.GetRelativePath(sink, delivered));

            await launcher.WaitForOutputAsync("socket(s) passed by systemd", TimeSpan.FromSeconds(10));
            var log = launcher.Output.ToString();
            Assert.Contains($"the configured endpoints 127.0.0.1:{configuredPort} are not bound", log);
            Assert.Contains($"Listening on 127.0.0.1:{port} (socket smtp from systemd)", log);
            Assert.False(SystemdTestConfig.Accepts(configuredPort), $"Something accepts on the configured endpoint 127.0.0.1:{configuredPort}.");

            // systemd-socket-activate and setpriv exec, so the launcher's process id is the server's.
            var commandLine = File.ReadAllText($"/proc/{launcher.ProcessId}/cmdline").Replace('\0', ' ');
            Assert.Contains("actors-mta.dll", commandLine);
            var status = File.ReadAllLines($"/proc/{launcher.ProcessId}/status");
            Assert.Equal("0000000000000000", StatusField(status, "CapEff"));
            Assert.Equal("0000000000000000", StatusField(status, "CapPrm"));
            var uids = StatusField(status, "Uid").Split('\t', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(uids, id => Assert.Equal(uid.ToString(), id));
        }
        finally
        {
            if (launcher is not null)
            {
                output.WriteLine("--- launcher and server output");
                output.WriteLine(launcher.Output.ToString());
                launcher.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Returns port 25 when it is free on 127.0.0.1, else the highest free port below 1024.</summary>
    private static int FreePrivilegedPort()
    {
        foreach (var port in new[] { 25 }.Concat(Enumerable.Range(600, 424).Reverse()))
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // In use; try the next.
            }
        }

        throw new InvalidOperationException("No free port below 1024 on 127.0.0.1.");
    }

    /// <summary>Returns the numeric id of <paramref name="name"/> from /etc/passwd or /etc/group (third field).</summary>
    private static int ReadId(string file, string name)
    {
        foreach (var line in File.ReadLines(file))
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && fields[0] == name)
            {
                return int.Parse(fields[2]);
            }
        }

        throw new InvalidOperationException($"'{name}' is not in {file}; the test runs the server as {UnprivilegedUser}:{UnprivilegedGroup}.");
    }

    private static string CreateOwnedDirectory(string path, int uid, int gid)
    {
        Directory.CreateDirectory(path);
        if (Posix.Chown(path, uid, gid) != 0)
        {
            throw new IOException($"chown {uid}:{gid} {path} failed with errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}.");
        }

        return path;
    }

    /// <summary>Copies a directory tree; new directories get mode 755 and files keep theirs (644 or 755 from the build).</summary>
    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        File.SetUnixFileMode(target, WorldReadableDirectory);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        foreach (var subdirectory in Directory.EnumerateDirectories(source))
        {
            CopyDirectory(subdirectory, Path.Combine(target, Path.GetFileName(subdirectory)));
        }
    }

    private static async Task<string> SendMessageAsync(int port, string body)
    {
        await using var client = await SmtpLineClient.ConnectAsync(port);
        var replies = new List<SmtpReply>
        {
            await client.ReadReplyAsync(),
            await client.CommandAsync("EHLO client.e2e.test"),
            await client.CommandAsync("MAIL FROM:<sender@example.net>"),
            await client.CommandAsync("RCPT TO:<alice@example.com>"),
            await client.CommandAsync("DATA"),
        };
        var message = $"From: sender@example.net\r\nTo: alice@example.com\r\nSubject: socket activation\r\n\r\n{body}\r\n";
        await client.SendDataAsync(Encoding.UTF8.GetBytes(message));
        replies.Add(await client.ReadReplyAsync());
        replies.Add(await client.CommandAsync("QUIT"));

        int[] expected = [220, 250, 250, 250, 354, 250, 221];
        Assert.True(replies.Select(r => r.Code).SequenceEqual(expected), $"Unexpected replies.\n{client.Transcript}");
        return client.Transcript;
    }

    private static async Task<string?> WaitForFileContainingAsync(string directory, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var match = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
                .FirstOrDefault(file => File.ReadAllText(file).Contains(text, StringComparison.Ordinal));
            if (match is not null)
            {
                return match;
            }

            await Task.Delay(100);
        }

        return null;
    }

    /// <summary>Returns the value of one "Name:\tvalue" line of /proc/PID/status.</summary>
    private static string StatusField(IEnumerable<string> status, string name)
    {
        var line = status.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            ?? throw new InvalidDataException($"/proc/PID/status has no {name} line.");
        return line[(name.Length + 1)..].Trim();
    }
}

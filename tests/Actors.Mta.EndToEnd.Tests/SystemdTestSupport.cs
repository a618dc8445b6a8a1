using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>One sd_notify(3) assignment ("READY=1") and when it arrived, measured from the socket's creation.</summary>
public sealed record NotifyMessage(TimeSpan At, string Text)
{
    public override string ToString() => $"{At.TotalSeconds,7:F3} s  {Text}";
}

/// <summary>
/// A unix datagram socket that plays the service manager's NOTIFY_SOCKET: it records every assignment a server
/// sends, one per line of each datagram, with its arrival time.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket socket;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<NotifyMessage> messages = new();
    private readonly Task receiving;

    private NotifySocket(Socket socket, string path)
    {
        this.socket = socket;
        Path = path;
        receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>The socket's path, the value for NOTIFY_SOCKET.</summary>
    public string Path { get; }

    /// <summary>Time since the socket was created, on the clock of <see cref="NotifyMessage.At"/>.</summary>
    public TimeSpan Elapsed => clock.Elapsed;

    public static NotifySocket Bind(string directory)
    {
        var path = System.IO.Path.Combine(directory, "notify.sock");
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return new NotifySocket(socket, path);
    }

    /// <summary>Returns the assignments received so far, oldest first.</summary>
    public IReadOnlyList<NotifyMessage> Messages
    {
        get
        {
            lock (messages)
            {
                return messages.ToList();
            }
        }
    }

    /// <summary>Waits for an assignment equal to <paramref name="text"/> and returns it, or throws with all received so far.</summary>
    public async Task<NotifyMessage> WaitForAsync(string text, TimeSpan timeout)
    {
        var deadline = clock.Elapsed + timeout;
        while (clock.Elapsed < deadline)
        {
            var found = Messages.FirstOrDefault(m => m.Text == text);
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"No {text} within {timeout.TotalSeconds} s. Received:\n{Transcript}");
    }

    /// <summary>All assignments received, one per line, for assertion messages.</summary>
    public string Transcript => string.Join("\n", Messages);

    public void Dispose()
    {
        socket.Dispose();
        try
        {
            receiving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The receive loop ends with an error when the socket is closed under it.
        }

        File.Delete(Path);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        while (true)
        {
            int length;
            try
            {
                length = await socket.ReceiveAsync(buffer, SocketFlags.None);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }

            var at = clock.Elapsed;
            var lines = Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lock (messages)
            {
                messages.AddRange(lines.Select(line => new NotifyMessage(at, line)));
            }
        }
    }
}

/// <summary>
/// A server (or a launcher such as systemd-socket-activate that execs into it) started with a chosen command
/// line and environment, with its output recorded. Disposing it sends SIGTERM, then SIGKILL after 15 s.
/// </summary>
public sealed class LaunchedProcess : IDisposable
{
    private readonly Process process;

    private LaunchedProcess(Process process, OutputLog output)
    {
        this.process = process;
        Output = output;
    }

    public OutputLog Output { get; }

    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>Starts <paramref name="fileName"/>; a null value in <paramref name="environment"/> removes the variable.</summary>
    public static LaunchedProcess Start(
        string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Failed to start {fileName}");
        var output = new OutputLog();
        output.Attach(process);
        return new LaunchedProcess(process, output);
    }

    /// <summary>Sends SIGTERM and waits up to <paramref name="timeout"/> for the process to exit; returns whether it did.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        Posix.Kill(process.Id, Posix.SignalTerminate);
        return process.WaitForExit(timeout);
    }

    /// <summary>Waits until a line of output contains <paramref name="text"/>, or throws with the output so far.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.ToString().Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No output line with '{text}' within {timeout.TotalSeconds} s.\n{Output}");
            }

            if (process.HasExited)
            {
                throw new InvalidOperationException($"The process exited with code {process.ExitCode} before writing '{text}'.\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        ProcessStopper.Stop(process, TimeSpan.FromSeconds(15));
        process.Dispose();
    }
}

/// <summary>Configuration files for the systemd tests: the root akka.hocon with override lines appended.</summary>
public static class SystemdTestConfig
{
    /// <summary>Writes the root akka.hocon plus <paramref name="overrides"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<string> overrides)
    {
        var config = new StringBuilder(File.ReadAllText(RepositoryLayout.RootConfigPath));
        config.Append("\n# Overrides appended by the systemd tests\n");
        foreach (var line in overrides)
        {
            config.Append(line).Append('\n');
        }

        File.WriteAllText(path, config.ToString());
    }

    /// <summary>Returns whether a TCP connection to 127.0.0.1:<paramref name="port"/> is accepted now.</summary>
    public static bool Accepts(int port)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            client.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

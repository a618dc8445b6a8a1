using System.Diagnostics;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>Result of running an external program to completion.</summary>
public sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The command line and everything it wrote, for assertion messages.</summary>
    public string Transcript => $"$ {Command}\nexit code {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Locates and runs the external programs the tests drive (dovecot, swaks, python3). A missing program is a
/// test failure, not a skip: the CI script installs all of them.
/// </summary>
public static class ExternalTool
{
    private static readonly string[] SystemDirectories = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

    /// <summary>Returns the full path of <paramref name="name"/> from PATH or the usual system directories.</summary>
    /// <exception cref="FileNotFoundException">The program is not installed.</exception>
    public static string Locate(string name, string package)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var directories = path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(SystemDirectories);
        foreach (var directory in directories)
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"Program '{name}' not found on PATH or in {string.Join(", ", SystemDirectories)}. " +
            $"Install the Debian package '{package}' (bash .ci/run installs every package these tests need).");
    }

    /// <summary>Runs a program to completion with an optional standard input and kills it after <paramref name="timeout"/>.</summary>
    public static async Task<ToolResult> RunAsync(
        string fileName, IReadOnlyList<string> arguments, TimeSpan timeout, byte[]? standardInput = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var command = fileName + " " + string.Join(" ", arguments.Select(QuoteForDisplay));
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Failed to start {command}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(standardInput);
        }

        process.StandardInput.Close();

        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException(
                $"Timed out after {timeout.TotalSeconds} s: {command}\n--- stdout\n{await stdout}\n--- stderr\n{await stderr}");
        }

        return new ToolResult(command, process.ExitCode, await stdout, await stderr);
    }

    private static string QuoteForDisplay(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:@=,+".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''") + "'";
}

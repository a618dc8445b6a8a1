using System.Diagnostics;
using System.Text;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>Thread-safe record of the lines a child process writes to stdout and stderr.</summary>
public sealed class OutputLog
{
    private readonly List<string> lines = new();

    /// <summary>Number of lines recorded so far; pass it to <see cref="Since"/> to read only later lines.</summary>
    public int Count
    {
        get
        {
            lock (lines)
            {
                return lines.Count;
            }
        }
    }

    /// <summary>Subscribes to both output streams of a process started with redirected output.</summary>
    public void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => Add("out", e.Data);
        process.ErrorDataReceived += (_, e) => Add("err", e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Returns the lines recorded after the first <paramref name="start"/> lines, one per line.</summary>
    public string Since(int start)
    {
        var text = new StringBuilder();
        lock (lines)
        {
            for (var i = Math.Min(start, lines.Count); i < lines.Count; i++)
            {
                text.AppendLine(lines[i]);
            }
        }

        return text.ToString();
    }

    public override string ToString() => Since(0);

    private void Add(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add($"[{stream}] {line}");
        }
    }
}

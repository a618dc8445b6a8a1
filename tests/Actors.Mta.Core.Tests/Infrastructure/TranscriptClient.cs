using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>
/// The client's side of a <see cref="PipeTransport"/>: sends command text and reads reply lines. Every read
/// gives up after 10 s with a <see cref="TimeoutException"/> that lists the lines read so far, so a session
/// that hangs fails its test instead of hanging the suite.
/// </summary>
public sealed class TranscriptClient
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly PipeTransport _transport;
    private readonly PipeReader _replies;
    private readonly List<string> _linesRead = new();

    /// <summary>Whether lines read are kept for timeout messages; long fuzz runs turn it off to keep memory flat.</summary>
    public bool KeepLines { get; set; } = true;

    public TranscriptClient(PipeTransport transport, PipeReader replies)
    {
        _transport = transport;
        _replies = replies;
    }

    /// <summary>Sends <paramref name="text"/> as UTF-8 in one write.</summary>
    public Task SendAsync(string text) => _transport.SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Sends raw bytes in one write.</summary>
    public Task SendAsync(byte[] bytes) => _transport.SendAsync(bytes);

    /// <summary>Sends <paramref name="text"/> and reads one complete reply, returning its last line.</summary>
    public async Task<string> CommandAsync(string text)
    {
        await SendAsync(text);
        var reply = await ReadReplyAsync();
        return reply[^1];
    }

    /// <summary>Reads one line without its CRLF, or returns null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _replies.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No reply line within {ReadTimeout.TotalSeconds} s; lines so far:\n{string.Join("\n", _linesRead)}");
            }

            var buffer = result.Buffer;
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is not null)
            {
                var line = buffer.Slice(0, lf.Value);
                string text = Encoding.UTF8.GetString(line.ToArray()).TrimEnd('\r');
                _replies.AdvanceTo(buffer.GetPosition(1, lf.Value));
                if (KeepLines)
                {
                    _linesRead.Add(text);
                }

                return text;
            }

            if (result.IsCompleted)
            {
                _replies.AdvanceTo(buffer.End);
                if (buffer.Length > 0)
                {
                    throw new InvalidDataException("Reply ended without CRLF: " + Encoding.UTF8.GetString(buffer.ToArray()));
                }

                return null;
            }

            _replies.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads the lines of one reply, up to and including the line whose code is followed by a space.</summary>
    public async Task<IReadOnlyList<string>> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            string line = await ReadLineAsync()
                ?? throw new EndOfStreamException("Connection closed in the middle of a reply; lines so far:\n" + string.Join("\n", _linesRead));
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return lines;
            }
        }
    }

    /// <summary>Reads <paramref name="count"/> replies and returns the last line of each.</summary>
    public async Task<IReadOnlyList<string>> ReadRepliesAsync(int count)
    {
        var finals = new List<string>();
        for (int i = 0; i < count; i++)
        {
            finals.Add((await ReadReplyAsync())[^1]);
        }

        return finals;
    }

    /// <summary>Reads every line until the server closes the connection.</summary>
    public async Task<IReadOnlyList<string>> ReadToEndAsync()
    {
        var lines = new List<string>();
        while (await ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>Returns true when the server has closed the connection with nothing more to read.</summary>
    public async Task<bool> IsAtEndAsync() => await ReadLineAsync() is null;
}

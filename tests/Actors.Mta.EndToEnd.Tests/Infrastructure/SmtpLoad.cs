using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One message of a load test. <paramref name="Token"/> is unique and appears in the Subject and the
/// Message-ID, so the stored copy can be found in a Maildir (see <see cref="SmtpLoad.CountTokens"/>).
/// </summary>
public sealed record LoadMessage(string Token, string Sender, IReadOnlyList<string> Recipients)
{
    public const string SubjectPrefix = "Load token ";

    public MimeMessage ToMimeMessage()
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(Sender));
        foreach (var recipient in Recipients)
        {
            message.To.Add(MailboxAddress.Parse(recipient));
        }

        message.Subject = SubjectPrefix + Token;
        message.MessageId = Token + "@load.e2e.test";
        message.Date = DateTimeOffset.UtcNow;
        message.Body = new TextPart("plain")
        {
            Text = $"Message {Token} of an end-to-end load test.\r\nIt must reach every recipient once the server has answered 250.\r\n",
        };
        return message;
    }
}

/// <summary>
/// The fate of one <see cref="LoadMessage"/>: <see cref="Accepted"/> when the reply to the final dot was 2xx,
/// then <see cref="Reply"/> is that reply's text; otherwise <see cref="Reply"/> describes the error.
/// </summary>
public sealed record LoadResult(LoadMessage Message, bool Accepted, string Reply, TimeSpan Latency);

/// <summary>
/// Sends many messages over several concurrent MailKit SMTP connections, one transaction at a time per
/// connection. A connection that fails (for example because the server was killed) is dropped, and the
/// client reconnects for its next message, trying again until the server listens again.
/// </summary>
public static partial class SmtpLoad
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Sends <paramref name="messages"/> over <paramref name="clients"/> connections to 127.0.0.1:<paramref name="port"/>
    /// and returns one result per message, in no particular order. Messages not sent before
    /// <paramref name="cancellationToken"/> is cancelled are reported as not accepted.
    /// </summary>
    /// <param name="onResult">Called from the client tasks, concurrently, as each result is known.</param>
    public static async Task<IReadOnlyList<LoadResult>> RunAsync(
        int port,
        IReadOnlyList<LoadMessage> messages,
        int clients,
        Action<LoadResult>? onResult = null,
        CancellationToken cancellationToken = default)
    {
        var pending = new ConcurrentQueue<LoadMessage>(messages);
        var results = new ConcurrentBag<LoadResult>();
        void Record(LoadResult result)
        {
            results.Add(result);
            onResult?.Invoke(result);
        }

        var tasks = Enumerable.Range(0, clients)
            .Select(_ => Task.Run(() => RunClientAsync(port, pending, Record, cancellationToken)))
            .ToList();
        await Task.WhenAll(tasks);
        return results.ToList();
    }

    /// <summary>Returns how many message files in <paramref name="user"/>'s INBOX carry each load token.</summary>
    public static Dictionary<string, int> CountTokens(DovecotFixture dovecot, string user)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var message in dovecot.ReadMailbox(user))
        {
            var match = SubjectToken().Match(Encoding.ASCII.GetString(message.Content));
            if (match.Success)
            {
                var token = match.Groups[1].Value;
                counts[token] = counts.GetValueOrDefault(token) + 1;
            }
        }

        return counts;
    }

    private static async Task RunClientAsync(
        int port, ConcurrentQueue<LoadMessage> pending, Action<LoadResult> record, CancellationToken cancellationToken)
    {
        SmtpClient? client = null;
        try
        {
            while (pending.TryDequeue(out var message))
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    record(new LoadResult(message, false, "not sent: the load was cancelled", TimeSpan.Zero));
                    continue;
                }

                var started = Stopwatch.GetTimestamp();
                try
                {
                    client ??= await ConnectAsync(port, cancellationToken);
                    var sender = MailboxAddress.Parse(message.Sender);
                    var recipients = message.Recipients.Select(MailboxAddress.Parse);
                    var reply = await client.SendAsync(message.ToMimeMessage(), sender, recipients, cancellationToken);
                    record(new LoadResult(message, true, reply, Stopwatch.GetElapsedTime(started)));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The connection may be half-way through a transaction or gone; the next message starts afresh.
                    record(new LoadResult(message, false, $"{e.GetType().Name}: {e.Message}", Stopwatch.GetElapsedTime(started)));
                    client?.Dispose();
                    client = null;
                }
            }
        }
        finally
        {
            if (client is not null)
            {
                await QuitAsync(client);
            }
        }
    }

    private static async Task<SmtpClient> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        while (true)
        {
            var client = new SmtpClient { LocalDomain = "load.e2e.test", Timeout = 60_000 };
            try
            {
                await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None, cancellationToken);
                return client;
            }
            catch (Exception e) when (e is SocketException or IOException or SmtpProtocolException)
            {
                // Refused or reset while the server is down or restarting.
                client.Dispose();
                await Task.Delay(ReconnectDelay, cancellationToken);
            }
        }
    }

    private static async Task QuitAsync(SmtpClient client)
    {
        try
        {
            await client.DisconnectAsync(quit: true);
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException or SmtpCommandException)
        {
            // The server may be gone already; the connection is closed either way.
        }
        finally
        {
            client.Dispose();
        }
    }

    [GeneratedRegex(@"^Subject: " + LoadMessage.SubjectPrefix + @"(\S+)\r?$", RegexOptions.Multiline)]
    private static partial Regex SubjectToken();
}

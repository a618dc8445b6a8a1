using System.Text;
using System.Text.RegularExpressions;
using Actors.Mta.Core.Spool;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// The "actors-mta queue" verb, run as the built host executable against a spool of its own: listing and
/// showing envelopes written by <see cref="SpoolStore"/>, the request files for retry and delete, and one
/// delete carried out by a running server.
/// </summary>
public sealed partial class QueueCommandTests : IDisposable
{
    private const int ExitError = 1;
    private const int ExitUsage = 64;
    private const int ExitConfig = 78;

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private static readonly byte[] MessageData = Encoding.ASCII.GetBytes(
        "From: alice@example.net\r\nTo: bob@example.com\r\nSubject: Queued\r\n\r\nStill waiting.\r\n");

    private readonly ITestOutputHelper output;
    private readonly string directory;
    private readonly string configPath;
    private readonly SpoolStore store;

    public QueueCommandTests(ITestOutputHelper output)
    {
        this.output = output;
        directory = Directory.CreateTempSubdirectory("actors-mta-queue-").FullName;
        store = new SpoolStore(Path.Combine(directory, "spool"));
        store.CreateDirectories();
        configPath = Path.Combine(directory, "queue.hocon");
        File.WriteAllText(
            configPath,
            File.ReadAllText(RepositoryLayout.RootConfigPath) + $"\nactors-mta.spool-directory = \"{store.Root}\"\n");
    }

    public void Dispose()
    {
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task List_EmptyQueue_PrintsEmptySummary()
    {
        var result = await RunQueueAsync(configPath, "list");

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal("-- Queue is empty\n", result.Stdout);
    }

    [Fact]
    public async Task List_TwoEntries_PrintsBothInArrivalOrder()
    {
        var arrival = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(5);
        var first = Entry("1ABCDFGHJKLMNPQR", "alice@example.net", arrival, "bob@example.com", "451 4.4.1 Connection refused");
        var second = Entry("2ABCDFGHJKLMNPQR", "", arrival + TimeSpan.FromMinutes(1), "carol@example.org", null) with
        {
            IsNotification = true,
            Size = 0,
        };
        store.EnqueueNew(MessageData, second);
        store.EnqueueNew(MessageData, first);

        var result = await RunQueueAsync(configPath, "list");

        Assert.True(result.ExitCode == 0, result.Transcript);
        string text = result.Stdout;
        int firstAt = text.IndexOf(first.QueueId, StringComparison.Ordinal);
        int secondAt = text.IndexOf(second.QueueId, StringComparison.Ordinal);
        Assert.True(firstAt >= 0, $"{first.QueueId} missing:\n{text}");
        Assert.True(secondAt > firstAt, $"{second.QueueId} missing or before {first.QueueId}:\n{text}");
        Assert.Contains($"{first.QueueId}  {MessageData.Length} bytes  arrived ", text);
        Assert.Matches(@"arrived \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, 5m\d+s ago", text);
        Assert.Contains("  from: <alice@example.net>\n", text);
        Assert.Contains("  from: <>\n", text);
        Assert.Contains("  attempts: 1, next attempt ", text);
        Assert.Contains("  to: <bob@example.com>\n      last reply: 451 4.4.1 Connection refused\n", text);
        Assert.Contains("  to: <carol@example.org>\n      last reply: (none yet)\n", text);
        Assert.Contains($"{second.QueueId}  size not recorded  arrived ", text);
        Assert.Contains("(delivery status notification)", text);
        Assert.EndsWith($"-- 2 messages, {MessageData.Length} bytes in total\n", text);
    }

    [Fact]
    public async Task List_TemporaryAndCorruptFiles_Skipped()
    {
        var entry = Entry("3ABCDFGHJKLMNPQR", "alice@example.net", DateTimeOffset.UtcNow, "bob@example.com", null);
        store.EnqueueNew(MessageData, entry);
        File.WriteAllText(store.EnvelopePath("4ABCDFGHJKLMNPQR") + ".tmp", "{\"QueueId\":");
        File.WriteAllText(store.EnvelopePath("5ABCDFGHJKLMNPQR"), "{\"QueueId\":");

        var result = await RunQueueAsync(configPath, "list");

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Contains(entry.QueueId, result.Stdout);
        Assert.DoesNotContain("4ABCDFGHJKLMNPQR", result.Stdout + result.Stderr);
        Assert.Contains("5ABCDFGHJKLMNPQR.env: invalid envelope", result.Stderr);
        Assert.EndsWith(
            $"-- 1 message, {MessageData.Length} bytes in total (1 unreadable envelope(s) skipped, see the errors above)\n",
            result.Stdout);
    }

    [Fact]
    public async Task List_ControlCharactersInReply_Escaped()
    {
        var entry = Entry("6ABCDFGHJKLMNPQR", "alice@example.net", DateTimeOffset.UtcNow, "bob@example.com", "451 \u001b[31mred");
        store.EnqueueNew(MessageData, entry);

        var result = await RunQueueAsync(configPath, "list");

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Contains("last reply: 451 \\x1B[31mred\n", result.Stdout);
    }

    [Fact]
    public async Task List_MissingQueueDirectory_ExitsOne()
    {
        Directory.Delete(store.Queue);

        var result = await RunQueueAsync(configPath, "list");

        Assert.True(result.ExitCode == ExitError, result.Transcript);
        Assert.Contains($"queue directory {store.Queue} does not exist", result.Stderr);
    }

    [Fact]
    public async Task Show_KnownId_PrintsEnvelopeThenData()
    {
        var entry = Entry("7ABCDFGHJKLMNPQR", "alice@example.net", DateTimeOffset.UtcNow, "bob@example.com", null) with
        {
            MailParameters = [new("BODY", "8BITMIME"), new("SMTPUTF8", null)],
        };
        store.EnqueueNew(MessageData, entry);

        var result = await RunQueueAsync(configPath, "show", entry.QueueId);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.StartsWith($"{entry.QueueId}  {MessageData.Length} bytes", result.Stdout);
        Assert.Contains("  MAIL parameters: BODY=8BITMIME SMTPUTF8\n", result.Stdout);
        Assert.Contains($"*** message data, {MessageData.Length} bytes, {store.DataPath(entry.QueueId)} ***\n", result.Stdout);
        Assert.EndsWith(Encoding.ASCII.GetString(MessageData), result.Stdout);
    }

    [Fact]
    public async Task Show_UnknownId_ExitsOne()
    {
        var result = await RunQueueAsync(configPath, "show", "8ABCDFGHJKLMNPQR");

        Assert.True(result.ExitCode == ExitError, result.Transcript);
        Assert.Contains("message 8ABCDFGHJKLMNPQR not found", result.Stderr);
    }

    [Fact]
    public async Task Retry_KnownId_WritesControlFile()
    {
        var entry = Entry("9ABCDFGHJKLMNPQR", "alice@example.net", DateTimeOffset.UtcNow, "bob@example.com", null);
        store.EnqueueNew(MessageData, entry);

        var result = await RunQueueAsync(configPath, "retry", entry.QueueId);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal(new[] { "retry-" + entry.QueueId }, ControlFiles());
        Assert.Contains("within its queue scan interval (1s)", result.Stdout);
        Assert.Empty(TemporaryFilesInSpoolRoot());
    }

    [Fact]
    public async Task RetryAll_WritesControlFile()
    {
        var result = await RunQueueAsync(configPath, "retry", "--all");

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal(new[] { "retry-all" }, ControlFiles());
    }

    [Fact]
    public async Task Delete_KnownId_WritesControlFile()
    {
        var entry = Entry("BABCDFGHJKLMNPQR", "alice@example.net", DateTimeOffset.UtcNow, "bob@example.com", null);
        store.EnqueueNew(MessageData, entry);

        var result = await RunQueueAsync(configPath, "delete", entry.QueueId);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Equal(new[] { "delete-" + entry.QueueId }, ControlFiles());
        Assert.True(File.Exists(store.EnvelopePath(entry.QueueId)), "The command removed the envelope itself.");
        Assert.Empty(TemporaryFilesInSpoolRoot());
    }

    [Fact]
    public async Task Delete_UnknownId_ExitsOne()
    {
        var result = await RunQueueAsync(configPath, "delete", "CABCDFGHJKLMNPQR");

        Assert.True(result.ExitCode == ExitError, result.Transcript);
        Assert.Contains("message CABCDFGHJKLMNPQR not found", result.Stderr);
        Assert.Empty(ControlFiles());
    }

    [Theory]
    [InlineData("delete", "../queue/x")]
    [InlineData("retry", "1ABC", "--all")]
    [InlineData("show")]
    [InlineData("list", "--all")]
    [InlineData("purge")]
    public async Task InvalidArguments_ExitUsage(params string[] arguments)
    {
        var result = await RunQueueAsync(configPath, arguments);

        Assert.True(result.ExitCode == ExitUsage, result.Transcript);
        Assert.Contains("Usage: actors-mta queue", result.Stderr);
    }

    [Fact]
    public async Task MissingConfig_ExitsConfig()
    {
        var result = await RunQueueAsync(Path.Combine(directory, "missing.hocon"), "list");

        Assert.True(result.ExitCode == ExitConfig, result.Transcript);
        Assert.Contains("missing.hocon not found", result.Stderr);
    }

    [Fact]
    public async Task Delete_RunningServer_RemovesMessage()
    {
        // Nothing listens on this port, so delivery fails with a transient error and the message is queued.
        int deadPort = FreeTcpPort.Next();
        await using var server = await ServerProcess.StartAsync(
            $"lmtp:127.0.0.1:{deadPort}", "actors-mta.queue.first-retry = 1h");
        var serverStore = new SpoolStore(Path.Combine(Path.GetDirectoryName(server.ConfigPath)!, "spool"));
        try
        {
            var swaks = await ExternalTool.RunAsync(
                ExternalTool.Locate("swaks", "swaks"),
                new[]
                {
                    "--server", $"127.0.0.1:{server.Port}", "--helo", "queue.e2e.test", "--from", "alice@example.net",
                    "--to", "bob@example.com", "--timeout", "60", "--body", "Queue command check",
                },
                TimeSpan.FromSeconds(120));
            var queued = QueuedAs().Match(swaks.Stdout);
            Assert.True(queued.Success, swaks.Transcript);
            string queueId = queued.Groups[1].Value;

            var list = await RunQueueAsync(server.ConfigPath, "list");
            Assert.True(list.ExitCode == 0, list.Transcript);
            Assert.Contains(queueId, list.Stdout);
            Assert.Contains("  to: <bob@example.com>\n", list.Stdout);

            var delete = await RunQueueAsync(server.ConfigPath, "delete", queueId);
            Assert.True(delete.ExitCode == 0, delete.Transcript);

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            // The server removes the envelope first and the data right after it, so wait for both.
            while ((File.Exists(serverStore.EnvelopePath(queueId)) || File.Exists(serverStore.DataPath(queueId))) &&
                   DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.False(File.Exists(serverStore.EnvelopePath(queueId)), $"{queueId}.env is still queued 10 s after the request.");
            Assert.False(File.Exists(serverStore.DataPath(queueId)), $"{queueId}.eml is still queued 10 s after the request.");
            Assert.Empty(Directory.GetFiles(Path.Combine(serverStore.Root, "control")));

            var after = await RunQueueAsync(server.ConfigPath, "list");
            Assert.Equal("-- Queue is empty\n", after.Stdout);
        }
        finally
        {
            output.WriteLine("--- server output");
            output.WriteLine(server.Output.ToString());
        }
    }

    [GeneratedRegex(@"250 2\.0\.0 Ok: queued as ([0-9A-Z]+)")]
    private static partial Regex QueuedAs();

    private static QueueEntry Entry(string queueId, string sender, DateTimeOffset arrival, string recipient, string? lastReply) => new()
    {
        QueueId = queueId,
        Sender = sender,
        MailParameters = [],
        Recipients = [new QueuedRecipient(recipient, lastReply)],
        ArrivalTime = arrival,
        Attempts = 1,
        NextAttempt = arrival + TimeSpan.FromHours(1),
        Size = MessageData.Length,
    };

    private string[] ControlFiles()
    {
        string control = Path.Combine(store.Root, "control");
        return Directory.Exists(control) ? Directory.GetFiles(control).Select(f => Path.GetFileName(f)).ToArray() : [];
    }

    private string[] TemporaryFilesInSpoolRoot() => Directory.GetFiles(store.Root);

    private async Task<ToolResult> RunQueueAsync(string config, params string[] arguments)
    {
        var commandLine = new List<string> { RepositoryLayout.HostAssemblyPath, "queue" };
        commandLine.AddRange(arguments);
        commandLine.Add("--config");
        commandLine.Add(config);
        var result = await ExternalTool.RunAsync(RepositoryLayout.DotnetPath, commandLine, CommandTimeout);
        output.WriteLine(result.Transcript);
        return result;
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A private Dovecot 2.3 that accepts LMTP on 127.0.0.1 at a free port and stores mail for a few virtual users
/// in Maildirs under a fresh temporary directory. Usable as an xunit fixture or created directly by a test that
/// needs its own instance (for example one it stops).
/// </summary>
public sealed class DovecotFixture : IAsyncLifetime, IDisposable
{
    /// <summary>User whose quota is <see cref="SmallQuotaKilobytes"/> KiB, so larger messages fail after DATA.</summary>
    public const string SmallQuotaUser = "small@example.com";

    public const int SmallQuotaKilobytes = 10;

    /// <summary>Users in Dovecot's passwd-file. Any other recipient gets 550 5.1.1 at RCPT.</summary>
    public static readonly IReadOnlyList<string> Users =
        new[] { "alice@example.com", "bob@example.com", "carol@example.org", SmallQuotaUser };

    // All virtual users' mail belongs to one unprivileged uid because Dovecot refuses to deliver as root.
    // 65534 is "nobody" on Debian; it is above Dovecot's default first_valid_uid of 500.
    private const int MailUid = 65534;
    private const int MailGid = 65534;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string configPath;
    private Process? process;
    private OutputLog output = new();

    public DovecotFixture()
    {
        RootDirectory = Directory.CreateTempSubdirectory("actors-mta-dovecot-").FullName;

        // Dovecot's processes run as other users and must traverse the root to reach their sockets and Maildirs.
        File.SetUnixFileMode(RootDirectory, (UnixFileMode)0b111_101_101);
        configPath = Path.Combine(RootDirectory, "dovecot.conf");
        LmtpPort = FreeTcpPort.Next();
    }

    /// <summary>
    /// When true a full mailbox gets 452 4.2.2 after DATA, otherwise 552 5.2.2 (Dovecot's quota_full_tempfail).
    /// Read by <see cref="InitializeAsync"/>.
    /// </summary>
    public bool QuotaFullTempfail { get; init; }

    /// <summary>Temporary directory holding the configuration, runtime files, log and Maildirs.</summary>
    public string RootDirectory { get; }

    public int LmtpPort { get; }

    /// <summary>Dovecot's LMTP unix socket, for routes of the form lmtp:/PATH.</summary>
    public string LmtpSocketPath => Path.Combine(RootDirectory, "run", "lmtp");

    /// <summary>Route destination that delivers to this instance over TCP.</summary>
    public string LmtpDestination => $"lmtp:127.0.0.1:{LmtpPort}";

    public string LogPath => Path.Combine(RootDirectory, "dovecot.log");

    public bool IsRunning => process is { HasExited: false };

    public async Task InitializeAsync()
    {
        ExternalTool.Locate("dovecot", "dovecot-core");
        if (!File.Exists("/usr/lib/dovecot/lmtp"))
        {
            throw new FileNotFoundException(
                "Dovecot's LMTP server /usr/lib/dovecot/lmtp is missing. Install the Debian package 'dovecot-lmtpd'.");
        }

        WriteConfiguration();
        await StartAsync();
    }

    /// <summary>Starts Dovecot in the foreground and waits for its LMTP greeting.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            return;
        }

        var startInfo = new ProcessStartInfo(ExternalTool.Locate("dovecot", "dovecot-core"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-F");
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(configPath);

        output = new OutputLog();
        process = Process.Start(startInfo) ?? throw new InvalidOperationException("Failed to start dovecot");
        output.Attach(process);

        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"Dovecot exited with code {process.ExitCode} during start-up.\n{Diagnostics()}");
            }

            if (await TryReadGreetingAsync())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Dovecot did not greet on 127.0.0.1:{LmtpPort} within {StartTimeout.TotalSeconds} s.\n{Diagnostics()}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Stops Dovecot (SIGTERM, then SIGKILL after 20 s) and waits until it has exited.</summary>
    public Task StopAsync()
    {
        if (process is not null)
        {
            ProcessStopper.Stop(process, TimeSpan.FromSeconds(20));
            process.Dispose();
            process = null;
        }

        return Task.CompletedTask;
    }

    /// <summary>Returns the console output and the log file, for failure messages.</summary>
    public string Diagnostics()
    {
        var log = File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log file)";
        return $"--- dovecot console\n{output}--- {LogPath}\n{log}";
    }

    /// <summary>Path of the Maildir that contains <paramref name="user"/>'s INBOX.</summary>
    public string MaildirOf(string user)
    {
        var (localPart, domain) = SplitUser(user);
        return Path.Combine(RootDirectory, "mail", domain, localPart, "Maildir");
    }

    /// <summary>Returns every message file in the user's INBOX (new/ and cur/), ordered by file name.</summary>
    public IReadOnlyList<MaildirMessage> ReadMailbox(string user)
    {
        var maildir = MaildirOf(user);
        var files = new List<string>();
        foreach (var folder in new[] { "new", "cur" })
        {
            var path = Path.Combine(maildir, folder);
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.GetFiles(path));
            }
        }

        return files
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .Select(path => new MaildirMessage(path, File.ReadAllBytes(path)))
            .ToList();
    }

    /// <summary>Records which message files exist now, so a test can read only the ones delivered after.</summary>
    public MailboxMark Mark() =>
        new(Users.ToDictionary(user => user, user => ReadMailbox(user).Select(m => m.Path).ToHashSet()));

    public async Task DisposeAsync()
    {
        await StopAsync();
        DeleteRoot();
    }

    public void Dispose()
    {
        StopAsync().GetAwaiter().GetResult();
        DeleteRoot();
    }

    private async Task<bool> TryReadGreetingAsync()
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync("127.0.0.1", LmtpPort, timeout.Token);
            using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
            var greeting = await reader.ReadLineAsync(timeout.Token);
            return greeting?.StartsWith("220 ", StringComparison.Ordinal) == true;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private void WriteConfiguration()
    {
        var runDirectory = Path.Combine(RootDirectory, "run");
        var stateDirectory = Path.Combine(RootDirectory, "state");
        var mailDirectory = Path.Combine(RootDirectory, "mail");
        Directory.CreateDirectory(runDirectory);
        Directory.CreateDirectory(stateDirectory);
        Directory.CreateDirectory(mailDirectory);
        File.SetUnixFileMode(mailDirectory, (UnixFileMode)0b111_101_101);
        Chown(mailDirectory);

        var usersPath = Path.Combine(RootDirectory, "users");
        var users = new StringBuilder();
        foreach (var user in Users)
        {
            var (localPart, domain) = SplitUser(user);
            var home = Path.Combine(mailDirectory, domain, localPart);
            var extra = user == SmallQuotaUser ? $"userdb_quota_rule=*:storage={SmallQuotaKilobytes}k" : "";

            // passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields
            users.Append($"{user}:{{PLAIN}}unused:{MailUid}:{MailGid}::{home}::{extra}\n");
        }

        File.WriteAllText(usersPath, users.ToString());

        // The configuration lives outside base_dir because Dovecot replaces base_dir/dovecot.conf with a link
        // to the file in use.
        File.WriteAllText(configPath, $$"""
            # Private Dovecot for the Actors.Mta end-to-end tests: LMTP only, on loopback.
            base_dir = {{runDirectory}}
            state_dir = {{stateDirectory}}
            instance_name = actors-mta-e2e-{{LmtpPort}}
            hostname = dovecot.e2e.test
            protocols = lmtp
            listen = 127.0.0.1
            ssl = no
            log_path = {{LogPath}}

            # Every RCPT gets 451 4.3.0 without a passdb, even though LMTP never authenticates.
            passdb {
              driver = passwd-file
              args = {{usersPath}}
            }
            userdb {
              driver = passwd-file
              args = {{usersPath}}
            }

            mail_location = maildir:~/Maildir
            # Store CRLF as received so the tests can compare stored files byte for byte.
            mail_save_crlf = yes
            # Without Dovecot's own Received header the only Received field it adds is the server's under test.
            lmtp_add_received_header = no

            mail_plugins = quota
            plugin {
              quota = maildir:User quota
              quota_full_tempfail = {{(QuotaFullTempfail ? "yes" : "no")}}
            }

            service lmtp {
              inet_listener lmtp {
                address = 127.0.0.1
                port = {{LmtpPort}}
              }
            }
            """.Replace("\r\n", "\n"));
    }

    private static void Chown(string path)
    {
        // NOTE: only runs as root were tried. A non-root user cannot give files away, and Dovecot would then
        // also need its internal users set to that user.
        if (Posix.GetEffectiveUserId() == 0 && Posix.Chown(path, MailUid, MailGid) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new IOException($"chown {MailUid}:{MailGid} {path} failed with errno {errno}.");
        }
    }

    private static (string LocalPart, string Domain) SplitUser(string user)
    {
        var at = user.LastIndexOf('@');
        return (user[..at], user[(at + 1)..]);
    }

    private void DeleteRoot()
    {
        try
        {
            Directory.Delete(RootDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One message file in a Maildir.</summary>
public sealed record MaildirMessage(string Path, byte[] Content);

/// <summary>The message files each user had when <see cref="DovecotFixture.Mark"/> was called.</summary>
public sealed class MailboxMark
{
    private readonly IReadOnlyDictionary<string, HashSet<string>> known;

    internal MailboxMark(IReadOnlyDictionary<string, HashSet<string>> known) => this.known = known;

    /// <summary>Returns the user's messages that were not in the mailbox when the mark was taken.</summary>
    public IReadOnlyList<MaildirMessage> NewMessages(DovecotFixture dovecot, string user) =>
        dovecot.ReadMailbox(user)
            .Where(m => !known.TryGetValue(user, out var paths) || !paths.Contains(m.Path))
            .ToList();
}

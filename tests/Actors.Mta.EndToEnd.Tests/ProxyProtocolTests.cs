using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>
/// A real HAProxy in front of the server, sending PROXY protocol version 1 (send-proxy) and version 2
/// (send-proxy-v2) from 127.0.0.5, the only trusted peer. Clients connect from other loopback addresses, so the
/// address the server records shows whether it came from the header.
/// </summary>
public sealed class ProxyProtocolTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly IPAddress ProxySource = IPAddress.Parse("127.0.0.5");
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("actors-mta-proxy-").FullName;
    private ServerProcess? _server;
    private Process? _haproxy;
    private int _v1Port;
    private int _v2Port;

    private string Sink => Path.Combine(_directory, "sink");

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync("dev-sink:" + Sink,
            "actors-mta.verification.enabled = off",
            $"actors-mta.proxy-protocol.trusted = [\"{ProxySource}\"]",
            "actors-mta.proxy-protocol.header-timeout = 5s");
        _v1Port = FreeTcpPort.Next();
        _v2Port = FreeTcpPort.Next();
        string config = $"""
            global
                log stdout format raw local0 info
            defaults
                mode tcp
                log global
                option tcplog
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            frontend smtp_v1
                bind 127.0.0.1:{_v1Port}
                default_backend mta_v1
            backend mta_v1
                server mta 127.0.0.1:{_server.Port} send-proxy source {ProxySource}
            frontend smtp_v2
                bind 127.0.0.1:{_v2Port}
                default_backend mta_v2
            backend mta_v2
                server mta 127.0.0.1:{_server.Port} send-proxy-v2 source {ProxySource}
            """;
        string configPath = Path.Combine(_directory, "haproxy.cfg");
        // HAProxy rejects a configuration whose last line has no LF.
        await File.WriteAllTextAsync(configPath, config + "\n");

        var startInfo = new ProcessStartInfo(ExternalTool.Locate("haproxy", "haproxy"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-db");
        startInfo.ArgumentList.Add("-f");
        startInfo.ArgumentList.Add(configPath);
        _haproxy = Process.Start(startInfo) ?? throw new InvalidOperationException("haproxy did not start");
        _haproxy.OutputDataReceived += (_, e) => Log("haproxy: " + e.Data);
        _haproxy.ErrorDataReceived += (_, e) => Log("haproxy: " + e.Data);
        _haproxy.BeginOutputReadLine();
        _haproxy.BeginErrorReadLine();
        await WaitForListenerAsync(_haproxy, _v1Port);
        await WaitForListenerAsync(_haproxy, _v2Port);
    }

    public async Task DisposeAsync()
    {
        if (_haproxy is { HasExited: false })
        {
            _haproxy.Kill();
            await _haproxy.WaitForExitAsync();
        }

        _haproxy?.Dispose();
        if (_server is not null)
        {
            output.WriteLine("--- server output");
            output.WriteLine(_server.Output.ToString());
            await _server.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task SwaksThroughSendProxy_RecordsClientAddress()
    {
        var swaks = ExternalTool.Locate("swaks", "swaks");

        var result = await ExternalTool.RunAsync(swaks,
            ["--server", $"127.0.0.1:{_v1Port}", "--local-interface", "127.0.0.2", "--helo", "swaks.e2e.test",
                "--from", "sender@example.net", "--to", "alice@example.com", "--header", "Subject: via haproxy v1", "--timeout", "30"],
            ToolTimeout);
        output.WriteLine(result.Transcript);

        Assert.True(result.ExitCode == 0, result.Transcript);
        Assert.Contains("from swaks.e2e.test ([127.0.0.2])", ReceivedHeaderFor("alice@example.com"));
        Assert.True(await OutputShowsAsync(@"connect from 127\.0\.0\.2:\d+"), "no connect line for 127.0.0.2 in the server log");
    }

    [Fact]
    public async Task RawClientThroughSendProxyV2_RecordsClientAddress()
    {
        await using var client = await SmtpLineClient.ConnectAsync(_v2Port, IPAddress.Parse("127.0.0.3"));

        Assert.Equal(220, (await client.ReadReplyAsync()).Code);
        Assert.Equal(250, (await client.CommandAsync("EHLO raw.e2e.test")).Code);
        Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<sender@example.net>")).Code);
        Assert.Equal(250, (await client.CommandAsync("RCPT TO:<bob@example.com>")).Code);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        await client.SendDataAsync(Encoding.ASCII.GetBytes("Subject: via haproxy v2\r\n\r\nHello\r\n"));
        Assert.Equal(250, (await client.ReadReplyAsync()).Code);

        Assert.Contains("from raw.e2e.test ([127.0.0.3])", ReceivedHeaderFor("bob@example.com"));
    }

    [Fact]
    public async Task DirectProxyLineFromUntrustedPeer_IsClosed()
    {
        await using var client = await SmtpLineClient.ConnectAsync(_server!.Port, IPAddress.Parse("127.0.0.2"));
        Assert.Equal(220, (await client.ReadReplyAsync()).Code);

        var reply = await client.CommandAsync("PROXY TCP4 192.0.2.7 127.0.0.1 40000 25");

        Assert.Equal(554, reply.Code);
        Assert.True(await client.IsClosedAsync(), client.Transcript);
        Assert.True(await OutputShowsAsync(@"PROXY protocol header from 127\.0\.0\.2:\d+"), "no rejection line in the server log");
    }

    [Fact]
    public async Task TrustedPeerWithoutHeader_IsClosed()
    {
        await using var client = await SmtpLineClient.ConnectAsync(_server!.Port, ProxySource);

        await client.SendLineAsync("EHLO impostor.e2e.test");

        Assert.True(await client.IsClosedAsync(), client.Transcript);
        Assert.True(await OutputShowsAsync(@"Closing connection from trusted proxy 127\.0\.0\.5:\d+"), "no closing line in the server log");
    }

    /// <summary>Waits up to 10 s for a line matching <paramref name="pattern"/> in the server's log, which is written asynchronously.</summary>
    private async Task<bool> OutputShowsAsync(string pattern)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!System.Text.RegularExpressions.Regex.IsMatch(_server!.Output.ToString(), pattern))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }

    private string ReceivedHeaderFor(string recipient)
    {
        string folder = Path.Combine(Sink, recipient);
        string file = Assert.Single(Directory.GetFiles(folder, "*.eml"));
        string text = File.ReadAllText(file);
        return text[..text.IndexOf("\r\n\t", StringComparison.Ordinal)];
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has finished; xunit no longer takes output.
        }
    }

    private static async Task WaitForListenerAsync(Process haproxy, int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (haproxy.HasExited)
            {
                throw new InvalidOperationException($"haproxy exited with code {haproxy.ExitCode}; its output is in the test output");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}

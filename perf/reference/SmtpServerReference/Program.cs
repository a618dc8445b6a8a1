// A reference SMTP server for load comparisons, not part of the product: it is built on the SmtpServer
// package, accepts every message and discards it, so its throughput and CPU time are what receiving SMTP
// costs in .NET on the same machine, with no spool, no fsync and no delivery.
using System.Buffers;
using System.Net;
using System.Runtime.InteropServices;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.Protocol;
using SmtpServer.Storage;

const string Usage =
    "usage: smtpserver-reference [--listen ADDRESS:PORT] [--max-message-size BYTES]\n" +
    "  --listen            endpoint to listen on (default 127.0.0.1:2526)\n" +
    "  --max-message-size  SIZE advertised in the EHLO reply, in bytes (default 209715200)";

var listen = new IPEndPoint(IPAddress.Loopback, 2526);
var maxMessageSize = 200 * 1024 * 1024;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--listen" when value is not null && IPEndPoint.TryParse(value, out var endpoint) && endpoint.Port != 0:
            listen = endpoint;
            i++;
            break;
        case "--max-message-size" when value is not null && int.TryParse(value, out var size) && size > 0:
            maxMessageSize = size;
            i++;
            break;
        case "--help" or "-h":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"error: invalid argument '{args[i]}'{(value is null ? "" : $" or its value '{value}'")}.\n{Usage}");
            return 2;
    }
}

var options = new SmtpServerOptionsBuilder()
    .ServerName("smtpserver-reference")
    .Endpoint(builder => builder.Endpoint(listen))
    .MaxMessageSize(maxMessageSize)
    .Build();
var store = new DiscardingMessageStore();
var services = new ServiceProvider();
services.Add(store);

var server = new SmtpServer.SmtpServer(options, services);
var faultedSessions = 0L;
server.SessionFaulted += (_, _) => Interlocked.Increment(ref faultedSessions);

using var stop = new CancellationTokenSource();
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

Console.WriteLine($"smtpserver-reference: listening on {listen}");
try
{
    await server.StartAsync(stop.Token);
}
catch (OperationCanceledException)
{
    // SIGTERM or SIGINT: the summary below is the normal end.
}

Console.WriteLine(
    $"smtpserver-reference: stopped; messages discarded={store.MessageCount}, faulted sessions={Interlocked.Read(ref faultedSessions)}");
return 0;

/// <summary>A message store that counts each message and keeps nothing, replying 250 to every final dot.</summary>
internal sealed class DiscardingMessageStore : MessageStore
{
    private long messageCount;

    public long MessageCount => Interlocked.Read(ref messageCount);

    public override Task<SmtpResponse> SaveAsync(
        ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref messageCount);
        return Task.FromResult(SmtpResponse.Ok);
    }
}

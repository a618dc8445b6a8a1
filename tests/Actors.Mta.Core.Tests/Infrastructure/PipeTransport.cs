using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Actors.Mta.Core.Sessions;

namespace Actors.Mta.Core.Tests.Infrastructure;

/// <summary>
/// An in-memory client connection: the test writes the client's bytes into one pipe and reads the server's
/// replies from the other. <see cref="SendInPiecesAsync"/> waits after each piece until the session has read it,
/// so input split into pieces reaches the session as separate reads.
/// </summary>
public sealed class PipeTransport : ISessionTransport
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);

    private readonly Pipe _clientToServer = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _serverToClient = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly ObservedReader _input;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _isClosed;
    private long _written;

    /// <param name="remote">The client's endpoint as the session sees it; 127.0.0.1:40000 when null.</param>
    public PipeTransport(IPEndPoint? remote = null)
    {
        RemoteEndPoint = remote ?? new IPEndPoint(IPAddress.Loopback, 40000);
        _input = new ObservedReader(_clientToServer.Reader);
        Client = new TranscriptClient(this, _serverToClient.Reader);
    }

    public PipeReader Input => _input;
    public PipeWriter Output => _serverToClient.Writer;
    public IPEndPoint? RemoteEndPoint { get; }
    public IPEndPoint? LocalEndPoint { get; } = new(IPAddress.Loopback, 25);

    /// <summary>Reads by the session that returned data, so a test can check that its pieces arrived separately.</summary>
    public int ReadCount => _input.ReadCount;

    /// <summary>The client's side: sends commands and reads replies.</summary>
    public TranscriptClient Client { get; }

    /// <summary>Completes when the session has closed the connection.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Fails the handshake, so the session closes: TLS tests use a <see cref="SocketTransport"/> on loopback.</summary>
    public Task<TlsSessionInfo> StartTlsAsync(System.Net.Security.SslServerAuthenticationOptions options, TimeSpan timeout) =>
        Task.FromException<TlsSessionInfo>(new NotSupportedException("PipeTransport has no TLS; use a loopback socket"));

    /// <summary>Closes both directions, as closing the socket would: the client reads end of stream.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _isClosed, 1) == 1)
        {
            return;
        }

        _serverToClient.Writer.Complete();
        _clientToServer.Reader.Complete();
        _input.MarkClosed();
        _closed.TrySetResult();
    }

    /// <summary>Writes <paramref name="bytes"/> as the client and flushes them, in one piece.</summary>
    public async Task SendAsync(byte[] bytes)
    {
        await _clientToServer.Writer.WriteAsync(bytes);
    }

    /// <summary>Ends the client's output, as a client that closes its socket.</summary>
    public void CompleteClientOutput() => _clientToServer.Writer.Complete();

    /// <summary>
    /// Writes each piece and waits, before the next one, until the session has read all of it and waits for
    /// more input (or has closed), so each piece reaches the session in a read of its own.
    /// </summary>
    public async Task SendInPiecesAsync(IEnumerable<byte[]> pieces)
    {
        foreach (byte[] piece in pieces)
        {
            await _clientToServer.Writer.WriteAsync(piece);
            _written += piece.Length;
            await _input.WaitUntilIdleAsync(_written, WaitTimeout);
        }
    }

    /// <summary>
    /// Wraps the session's input to tell when the session has read a number of bytes and waits for more.
    /// A read on a <see cref="Pipe"/> stays pending only when every byte written so far has been examined,
    /// so a pending read means the session has seen exactly the bytes of the buffers it was given.
    /// </summary>
    private sealed class ObservedReader(PipeReader inner) : PipeReader
    {
        private readonly object _gate = new();
        private readonly List<(long Bytes, TaskCompletionSource Source)> _waiters = new();
        private ReadOnlySequence<byte> _lastBuffer;
        private long _consumed;
        private long _seen;
        private long _idleAfter = -1;
        private bool _closed;
        private int _readCount;

        public int ReadCount => Volatile.Read(ref _readCount);

        public void MarkClosed()
        {
            lock (_gate)
            {
                _closed = true;
                foreach (var waiter in _waiters)
                {
                    waiter.Source.TrySetResult();
                }

                _waiters.Clear();
            }
        }

        /// <summary>Waits until the session has seen <paramref name="bytes"/> bytes and waits for more, or the connection closed.</summary>
        public async Task WaitUntilIdleAsync(long bytes, TimeSpan timeout)
        {
            var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_closed || _idleAfter >= bytes)
                {
                    return;
                }

                _waiters.Add((bytes, source));
            }

            if (await Task.WhenAny(source.Task, Task.Delay(timeout)) != source.Task)
            {
                throw new TimeoutException($"The session did not read {bytes} bytes of input within {timeout.TotalSeconds} s");
            }
        }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var read = inner.ReadAsync(cancellationToken);
            if (!read.IsCompleted)
            {
                SignalIdle();
            }

            var result = await read;
            Interlocked.Increment(ref _readCount);
            lock (_gate)
            {
                _lastBuffer = result.Buffer;
                _seen = _consumed + result.Buffer.Length;
            }

            return result;
        }

        public override bool TryRead(out ReadResult result) => throw new NotSupportedException("Sessions read with ReadAsync");

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            lock (_gate)
            {
                _consumed += _lastBuffer.Slice(_lastBuffer.Start, consumed).Length;
            }

            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            MarkClosed();
        }

        private void SignalIdle()
        {
            lock (_gate)
            {
                _idleAfter = Math.Max(_idleAfter, _seen);
                foreach (var waiter in _waiters.Where(w => w.Bytes <= _idleAfter).ToList())
                {
                    waiter.Source.TrySetResult();
                    _waiters.Remove(waiter);
                }
            }
        }
    }
}

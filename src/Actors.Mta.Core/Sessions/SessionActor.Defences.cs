using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Actors.Mta.Core.Metrics;
using Actors.Mta.Protocol.Proxy;
using Akka.Actor;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

/// <summary>The greeting delay is over: the session sends its 220 greeting unless the client spoke first.</summary>
internal sealed record GreetingDelayElapsed
{
    public static readonly GreetingDelayElapsed Instance = new();
}

/// <summary>The session has been open for timeouts.session-lifetime.</summary>
internal sealed record SessionLifetimeExpired
{
    public static readonly SessionLifetimeExpired Instance = new();
}

/// <summary>Time to compare the client's rate of message data with limits.min-data-rate.</summary>
internal sealed record CheckDataRate
{
    public static readonly CheckDataRate Instance = new();
}

// Defences for a server on the open Internet. A session closes after too many commands, errors or
// transactions, when a command line or the whole session takes too long, and when message data arrives too
// slowly. It rejects early talkers (behind a greeting delay) and PROXY headers from peers not trusted to send one.
public sealed partial class SessionActor
{
    private const string GreetingTimer = "greeting";
    private const string LifetimeTimer = "lifetime";
    private const string DataRateTimer = "data-rate";

    private readonly IPEndPoint? _client;
    private bool _greeted;
    private bool _readPending;
    private bool _proxyHeaderChecked;
    private int _errorCount;
    private int _transactionCount;

    // Stopwatch timestamp by which the command line in progress must be complete; 0 while none is.
    private long _commandDeadline;
    private string _commandPhase = "command";

    // Data received and time spent waiting for the client in the current rate window, and when the pending
    // read in DATA mode began (0 when none is pending).
    private long _dataRateBytes;
    private TimeSpan _dataWaitTime;
    private long _dataWaitStarted;

    private void ReceiveDefenceMessages()
    {
        Receive<GreetingDelayElapsed>(_ => OnGreetingDelayElapsed());
        Receive<SessionLifetimeExpired>(_ => OnSessionLifetimeExpired());
        Receive<CheckDataRate>(_ => OnCheckDataRate());
    }

    /// <summary>
    /// Starts the session lifetime and greets the client, at once or after smtp.greeting-delay. During the
    /// delay a read is pending, so bytes from a client that does not wait for the greeting are seen.
    /// </summary>
    private void StartGreeting()
    {
        Timers.StartSingleTimer(LifetimeTimer, SessionLifetimeExpired.Instance, _settings.SessionLifetime);
        if (_settings.GreetingDelay <= TimeSpan.Zero)
        {
            SendGreeting();
            return;
        }

        Timers.StartSingleTimer(GreetingTimer, GreetingDelayElapsed.Instance, _settings.GreetingDelay);
        BeginRead();
    }

    private void SendGreeting()
    {
        _greeted = true;
        Reply(220, null, $"{_settings.ServerName} ESMTP Actors.Mta");
        Flush();
    }

    private void OnGreetingDelayElapsed()
    {
        if (_mode == Mode.Closed || _greeted || _closeAfterFlush)
        {
            return;
        }

        SendGreeting();
    }

    private void BeginRead()
    {
        if (_readPending)
        {
            return;
        }

        _readPending = true;
        _transport.Input.ReadAsync().AsTask().PipeTo(Self,
            success: result => new SessionIo.ReadCompleted(result),
            failure: error => new SessionIo.ReadFailed(error));
    }

    /// <summary>Handles input that arrived during the greeting delay: the client is an early talker.</summary>
    private void OnInputBeforeGreeting(ReadResult result)
    {
        var buffer = result.Buffer;
        long length = buffer.Length;
        bool proxyHeader = length > 0 && ProxyProtocolParser.Detect(buffer) == ProxyParseStatus.Success;
        _transport.Input.AdvanceTo(buffer.End);
        Timers.Cancel(GreetingTimer);
        if (length == 0)
        {
            if (result.IsCompleted)
            {
                _log.Info("{SessionId}: lost connection before the greeting from {Remote}", _sessionId, _remote);
                Close();
                return;
            }

            BeginRead();
            return;
        }

        _greeted = true;
        _closeAfterFlush = true;
        _outcome = SessionOutcome.Policy;
        if (proxyHeader)
        {
            RejectProxyHeader();
        }
        else
        {
            _log.Info("{SessionId}: reject: early talker {Remote} sent {Count} bytes before the greeting", _sessionId, _remote, length);
            WriteUtf8($"554 5.5.0 {_settings.ServerName} Protocol error: input before the greeting\r\n");
        }

        Flush();
    }

    /// <summary>
    /// Closes a session whose first input is a PROXY protocol header: this peer is not in proxy-protocol.trusted,
    /// so the address in the header must not be believed. Returns true when processing of the buffer must stop,
    /// also while the input so far is only the start of a possible header.
    /// </summary>
    private bool RejectUntrustedProxyHeader(ref ReadOnlySequence<byte> buffer)
    {
        if (_proxyHeaderChecked)
        {
            return false;
        }

        switch (ProxyProtocolParser.Detect(buffer))
        {
            case ProxyParseStatus.Incomplete:
                return true;
            case ProxyParseStatus.Invalid:
                _proxyHeaderChecked = true;
                return false;
        }

        buffer = buffer.Slice(buffer.End);
        _closeAfterFlush = true;
        _outcome = SessionOutcome.Policy;
        RejectProxyHeader();
        return true;
    }

    private void RejectProxyHeader()
    {
        _log.Warning("{SessionId}: reject: PROXY protocol header from {Remote}, which is not in proxy-protocol.trusted; closing", _sessionId, _remote);
        WriteUtf8($"554 5.7.0 {_settings.ServerName} PROXY protocol header not accepted from this address\r\n");
    }

    /// <summary>
    /// Starts the timer for a read. While message data is read (DATA or a BDAT chunk) it restarts with every
    /// read (timeouts.data-block). In command mode the whole line must arrive by one deadline, set when the
    /// server starts waiting for a new line, so a client cannot hold the session by sending a byte now and then.
    /// </summary>
    private void StartReadTimer()
    {
        long now = Stopwatch.GetTimestamp();
        if (IsReadingData)
        {
            _dataWaitStarted = now;
            Timers.StartSingleTimer(IoTimer, new SessionIo.TimedOut("data"), _settings.DataBlockTimeout);
            return;
        }

        if (_commandDeadline == 0)
        {
            bool first = _commandCount == 0;
            TimeSpan timeout = first && _settings.FirstCommandTimeout < _settings.CommandTimeout
                ? _settings.FirstCommandTimeout
                : _settings.CommandTimeout;
            _commandDeadline = now + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            _commandPhase = first ? "greeting" : "command";
        }

        TimeSpan remaining = Stopwatch.GetElapsedTime(now, _commandDeadline);
        Timers.StartSingleTimer(IoTimer, new SessionIo.TimedOut(_commandPhase), remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
    }

    /// <summary>Called when a read returns: adds the wait to the data rate window.</summary>
    private void OnReadReturned()
    {
        _readPending = false;
        if (_dataWaitStarted != 0)
        {
            _dataWaitTime += Stopwatch.GetElapsedTime(_dataWaitStarted);
            _dataWaitStarted = 0;
        }
    }

    /// <summary>Counts a command line; past limits.max-commands-per-session the session is closed with 421.</summary>
    private bool CommandLimitReached()
    {
        if (_commandCount <= _settings.MaxCommandsPerSession)
        {
            return false;
        }

        CloseForPolicy("too many commands", "Too many commands");
        return true;
    }

    /// <summary>Counts an accepted MAIL; past limits.max-transactions-per-session the session is closed with 421.</summary>
    private bool TransactionLimitReached()
    {
        if (_transactionCount >= _settings.MaxTransactionsPerSession)
        {
            CloseForPolicy("too many transactions", "Too many transactions");
            return true;
        }

        _transactionCount++;
        return false;
    }

    /// <summary>
    /// Counts a 5xx reply to a command. Replies after the final dot are not counted: they judge the message, and a
    /// bounced delivery is no fault of the client. At limits.max-errors-per-session, 421 follows and the session closes.
    /// </summary>
    private void CountErrorReply(int code)
    {
        if (code < 500 || _mode == Mode.AwaitingDelivery || _closeAfterFlush)
        {
            return;
        }

        if (++_errorCount >= _settings.MaxErrorsPerSession)
        {
            CloseForPolicy($"{_errorCount} error replies", "Too many errors");
        }
    }

    private void CloseForPolicy(string reason, string replyText)
    {
        _log.Info("{SessionId}: closing session with {Remote}: {Reason}", _sessionId, _remote, reason);
        _closeAfterFlush = true;
        _outcome = SessionOutcome.Policy;
        WriteUtf8($"421 4.7.0 {_settings.ServerName} {replyText}, closing connection\r\n");
    }

    private void OnSessionLifetimeExpired()
    {
        if (_mode == Mode.Closed || DeferWhileFlushing())
        {
            return;
        }

        if (_mode != Mode.Commands && !IsReadingData)
        {
            // A recipient check, a delivery or a TLS handshake is running; each has its own timeout. Close after it.
            Timers.StartSingleTimer(LifetimeTimer, SessionLifetimeExpired.Instance, TimeSpan.FromSeconds(1));
            return;
        }

        _log.Info("{SessionId}: session lifetime of {Lifetime} over for {Remote}", _sessionId, _settings.SessionLifetime, _remote);
        CloseWithTimeout("Session lifetime exceeded");
    }

    /// <summary>Starts checking the data rate when DATA or a BDAT chunk begins, unless limits.min-data-rate is 0.</summary>
    private void StartDataRateCheck()
    {
        _dataRateBytes = 0;
        _dataWaitTime = TimeSpan.Zero;
        _dataWaitStarted = 0;
        if (_settings.MinDataRate > 0)
        {
            Timers.StartPeriodicTimer(DataRateTimer, CheckDataRate.Instance, _settings.MinDataRateWindow / 2);
        }
    }

    /// <summary>
    /// Compares the data received with limits.min-data-rate once a full window of waiting for the client has
    /// passed. Time the session spends on its own work (writing the spool, flushing replies) is not counted.
    /// </summary>
    private void OnCheckDataRate()
    {
        if (!IsReadingData)
        {
            Timers.Cancel(DataRateTimer);
            return;
        }

        if (DeferWhileFlushing())
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        TimeSpan waited = _dataWaitTime + (_dataWaitStarted != 0 ? Stopwatch.GetElapsedTime(_dataWaitStarted, now) : TimeSpan.Zero);
        if (waited < _settings.MinDataRateWindow)
        {
            return;
        }

        double rate = _dataRateBytes / waited.TotalSeconds;
        if (rate >= _settings.MinDataRate)
        {
            _dataRateBytes = 0;
            _dataWaitTime = TimeSpan.Zero;
            _dataWaitStarted = _dataWaitStarted != 0 ? now : 0;
            return;
        }

        _log.Info("{SessionId}: data rate {Rate:0} bytes/s from {Remote} is below limits.min-data-rate {MinRate}",
            _sessionId, rate, _remote, _settings.MinDataRate);
        CloseWithTimeout("Data rate too low");
    }

    private void CloseWithTimeout(string text)
    {
        Reply(421, "4.4.2", $"{_settings.ServerName} {text}, closing connection");
        _outcome = SessionOutcome.Timeout;
        _closeAfterFlush = true;
        _dataWritePending = false;
        Flush();
    }
}

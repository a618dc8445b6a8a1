using System.Buffers;
using System.Globalization;
using Actors.Mta.Core.Delivery;
using Actors.Mta.Core.Metrics;
using Akka.Actor;
using Actors.Mta.Protocol.Addresses;
using Actors.Mta.Protocol.Smtp;
using Akka.Event;

namespace Actors.Mta.Core.Sessions;

// Command handling: framing of command lines and one handler per verb, each opening with its guard
// clauses in the order sequence, syntax, limits.
public sealed partial class SessionActor
{
    private string? _heloName;
    private bool _esmtp;
    private Transaction? _transaction;
    private Mailbox? _pendingRecipient;
    private IReadOnlyList<KeyValuePair<string, string?>> _pendingRecipientParameters = [];

    /// <summary>Handles every complete command line in the buffer. Returns true when more input is needed.</summary>
    private bool ProcessCommands(ref ReadOnlySequence<byte> buffer)
    {
        if (RejectUntrustedProxyHeader(ref buffer))
        {
            return true;
        }

        while (_mode == Mode.Commands && !_closeAfterFlush)
        {
            SequencePosition? lf = buffer.PositionOf((byte)'\n');
            if (lf is null)
            {
                if (buffer.Length >= _settings.MaxCommandLineLength)
                {
                    // Drop the line so far and remember to reject it at its end: the buffer stays bounded.
                    _discardingLongLine = true;
                    buffer = buffer.Slice(buffer.End);
                }

                return true;
            }

            var line = buffer.Slice(0, lf.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            _commandDeadline = 0;
            if (_discardingLongLine || line.Length + 1 > _settings.MaxCommandLineLength)
            {
                _discardingLongLine = false;
                Reply(500, "5.5.2", "Line too long");
                continue;
            }

            HandleLine(line);
            if (_mode == Mode.StartingTls)
            {
                DiscardInputAfterStartTls(ref buffer);
                return true;
            }

            DrainIfIdle();
        }

        return false;
    }

    private void HandleLine(ReadOnlySequence<byte> line)
    {
        _commandCount++;
        if (CommandLimitReached())
        {
            return;
        }

        if (line.IsSingleSegment)
        {
            HandleLine(line.FirstSpan);
            return;
        }

        // A line split across pipe segments is copied into one buffer. MaxCommandLineLength bounds its length.
        byte[] copy = ArrayPool<byte>.Shared.Rent((int)line.Length);
        try
        {
            line.CopyTo(copy);
            HandleLine(copy.AsSpan(0, (int)line.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private void HandleLine(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0 || bytes[^1] != (byte)'\r')
        {
            Reply(500, "5.5.2", "Command line must end with CRLF");
            return;
        }

        bytes = bytes[..^1];
        if (bytes.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) >= 0)
        {
            Reply(500, "5.5.2", "Invalid character in command line");
            return;
        }

        var command = SmtpCommandParser.Parse(bytes);
        if (!command.IsValidUtf8)
        {
            Reply(500, "5.5.2", "Command line is not valid UTF-8");
            return;
        }

        // UTF-8 never decodes to more chars than it has bytes. An argument of up to 512 bytes (the RFC 5321 command
        // line limit) decodes on the stack, and a longer one (MaxCommandLineLength allows 65536) into a pooled array.
        const int StackArgumentChars = 512;
        char[]? rented = null;
        Span<char> buffer = command.Argument.Length <= StackArgumentChars
            ? stackalloc char[StackArgumentChars]
            : rented = ArrayPool<char>.Shared.Rent(command.Argument.Length);
        try
        {
            Dispatch(command.Verb, command.DecodeArgument(buffer));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    // The handlers in other files take the argument as a string. An empty span converts to string.Empty, so only
    // a non-empty argument allocates.
    private void Dispatch(SmtpVerb verb, ReadOnlySpan<char> argument)
    {
        switch (verb)
        {
            case SmtpVerb.Helo:
                Helo(argument, extended: false);
                break;
            case SmtpVerb.Ehlo:
                Helo(argument, extended: true);
                break;
            case SmtpVerb.Mail:
                Mail(argument);
                break;
            case SmtpVerb.Rcpt:
                Rcpt(argument);
                break;
            case SmtpVerb.Data:
                Data(argument.ToString());
                break;
            case SmtpVerb.Rset:
                Rset(argument);
                break;
            case SmtpVerb.Noop:
                Reply(250, "2.0.0", "Ok");
                break;
            case SmtpVerb.Quit:
                Reply(221, "2.0.0", $"{_settings.ServerName} Bye");
                _outcome = SessionOutcome.Quit;
                _closeAfterFlush = true;
                break;
            case SmtpVerb.Vrfy:
                Vrfy(argument);
                break;
            case SmtpVerb.Help:
                Reply(214, "2.0.0", "Commands: EHLO HELO STARTTLS MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
                break;
            case SmtpVerb.StartTls:
                StartTls(argument.ToString());
                break;
            case SmtpVerb.Bdat:
                Bdat(argument.ToString());
                break;
            case SmtpVerb.Expn:
            case SmtpVerb.Auth:
                Reply(502, "5.5.1", "Command not implemented");
                break;
            default:
                Reply(500, "5.5.2", "Command not recognized");
                break;
        }
    }

    private void Helo(ReadOnlySpan<char> argument, bool extended)
    {
        ReadOnlySpan<char> trimmed = argument.Trim();
        if (trimmed.Length == 0 || trimmed.Contains(' ') || trimmed.Length > 255)
        {
            Reply(501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
            return;
        }

        // RFC 5321 section 4.1.4: EHLO or HELO ends any transaction in progress.
        string name = trimmed.ToString();
        _heloName = name;
        _esmtp = extended;
        ResetTransaction();
        if (!extended)
        {
            Reply(250, null, _settings.ServerName);
            return;
        }

        var keywords = new List<string>
        {
            $"{_settings.ServerName} Hello {name}",
            "PIPELINING",
            "SIZE " + _settings.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
            "CHUNKING",
            "BINARYMIME",
            "DSN",
        };
        if (_settings.Tls is not null && !_tls)
        {
            keywords.Add("STARTTLS");
        }

        keywords.Add("HELP");
        ReplyLines(250, keywords);
    }

    private void Mail(ReadOnlySpan<char> argument)
    {
        if (_heloName is null)
        {
            Reply(503, "5.5.1", "Send EHLO or HELO first");
            return;
        }

        if (_transaction is not null)
        {
            Reply(503, "5.5.1", "Nested MAIL command");
            return;
        }

        if (!PathArgument.TryParse(argument, "FROM:", out var parsed, out string error))
        {
            Reply(501, "5.5.4", error);
            return;
        }

        if (!ValidateMailParameters(parsed, out bool smtpUtf8, out bool binaryMime))
        {
            return;
        }

        var path = AddressParser.ParseReversePath(parsed.Path, allowUtf8: smtpUtf8);
        if (!path.Success)
        {
            Reply(501, "5.1.7", "Bad sender address syntax: " + path.Error);
            return;
        }

        if (TransactionLimitReached())
        {
            return;
        }

        _transaction = new Transaction(path.Mailbox, parsed.ToList(), smtpUtf8, binaryMime);
        Reply(250, "2.1.0", "Ok");
    }

    // Checks the MAIL parameters this server offers (RFC 1870 SIZE, RFC 6152 and RFC 3030 BODY, RFC 6531
    // SMTPUTF8, RFC 3461 RET and ENVID) and replies to any other with 555, as RFC 5321 section 4.1.1.11 requires.
    private bool ValidateMailParameters(PathArgument parsed, out bool smtpUtf8, out bool binaryMime)
    {
        smtpUtf8 = false;
        binaryMime = false;
        foreach (EsmtpParameter parameter in parsed.Parameters)
        {
            string keyword = parameter.GetKeyword();
            ReadOnlySpan<char> value = parameter.Value;
            switch (keyword)
            {
                case "SIZE" when _esmtp:
                    if (!parameter.HasValue || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long size))
                    {
                        Reply(501, "5.5.4", "Invalid SIZE value");
                        return false;
                    }

                    if (size > _settings.MaxMessageSize)
                    {
                        Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
                        return false;
                    }

                    break;
                case "BODY" when _esmtp:
                    binaryMime = value.Equals("BINARYMIME", StringComparison.OrdinalIgnoreCase);
                    if (!binaryMime &&
                        !value.Equals("7BIT", StringComparison.OrdinalIgnoreCase) &&
                        !value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase))
                    {
                        Reply(501, "5.5.4", "Invalid BODY value, expected 7BIT, 8BITMIME or BINARYMIME");
                        return false;
                    }

                    break;
                case "SMTPUTF8" when _esmtp:
                    if (parameter.HasValue)
                    {
                        Reply(501, "5.5.4", "SMTPUTF8 takes no value");
                        return false;
                    }

                    smtpUtf8 = true;
                    break;
                case "RET" when _esmtp:
                    if (DsnParameters.ValidateRet(value) is { } retError)
                    {
                        Reply(501, "5.5.4", retError);
                        return false;
                    }

                    break;
                case "ENVID" when _esmtp:
                    if (DsnParameters.ValidateEnvelopeId(value) is { } envelopeIdError)
                    {
                        Reply(501, "5.5.4", envelopeIdError);
                        return false;
                    }

                    break;
                default:
                    Reply(555, "5.5.4", $"Unsupported parameter {keyword}");
                    return false;
            }
        }

        return true;
    }

    // Checks the RCPT parameters this server offers, RFC 3461 NOTIFY and ORCPT, and replies to any other with 555.
    private bool ValidateRcptParameters(PathArgument parsed)
    {
        foreach (EsmtpParameter parameter in parsed.Parameters)
        {
            string keyword = parameter.GetKeyword();
            if (!_esmtp || keyword is not ("NOTIFY" or "ORCPT"))
            {
                Reply(555, "5.5.4", $"Unsupported parameter {keyword}");
                return false;
            }

            string? error = keyword == "NOTIFY"
                ? DsnParameters.ValidateNotify(parameter.Value)
                : DsnParameters.ValidateOriginalRecipient(parameter.Value);
            if (error is not null)
            {
                Reply(501, "5.5.4", error);
                return false;
            }
        }

        return true;
    }

    private void Rcpt(ReadOnlySpan<char> argument)
    {
        if (_transaction is null)
        {
            Reply(503, "5.5.1", "Need MAIL before RCPT");
            return;
        }

        if (!PathArgument.TryParse(argument, "TO:", out var parsed, out string error))
        {
            ServerMetrics.RecipientRejected(RecipientRejection.Syntax);
            Reply(501, "5.5.4", error);
            return;
        }

        if (!ValidateRcptParameters(parsed))
        {
            return;
        }

        var path = AddressParser.ParseForwardPath(parsed.Path, allowUtf8: _transaction.SmtpUtf8);
        if (!path.Success)
        {
            ServerMetrics.RecipientRejected(RecipientRejection.Syntax);
            Reply(501, "5.1.3", "Bad recipient address syntax: " + path.Error);
            return;
        }

        var recipient = path.Mailbox!;
        if (recipient.Domain.Length == 0)
        {
            // "<Postmaster>" without a domain (RFC 5321 section 4.5.1) goes to postmaster of the first accepted domain.
            recipient = new Mailbox("postmaster", _settings.AcceptedDomains[0]);
        }

        if (recipient.IsAddressLiteral || !_settings.IsAcceptedDomain(recipient.Domain))
        {
            _log.Info("{SessionId}: reject: RCPT from {Remote}: 550 5.7.1 relay access denied; from=<{From}> to=<{To}>",
                _sessionId, _remote, _transaction.ReversePath?.Address ?? "", recipient.Address);
            ServerMetrics.RecipientRejected(RecipientRejection.Relay);
            Reply(550, "5.7.1", "Relay access denied");
            return;
        }

        if (_transaction.Recipients.Count >= _settings.MaxRecipients)
        {
            ServerMetrics.RecipientRejected(RecipientRejection.TooMany);
            Reply(452, "4.5.3", "Too many recipients");
            return;
        }

        if (_transaction.Recipients.Any(r => string.Equals(r.Address, recipient.Address, StringComparison.OrdinalIgnoreCase)))
        {
            Reply(250, "2.1.5", "Ok");
            return;
        }

        // The delivery side checks the mailbox with the MDA; commands pipelined after this RCPT wait in the
        // pipe until the result comes, so replies stay in order.
        _pendingRecipient = recipient;
        _pendingRecipientParameters = parsed.ToList();
        _mode = Mode.AwaitingVerification;
        Timers.StartSingleTimer(IoTimer, new SessionIo.TimedOut("RCPT"), _settings.VerificationTimeout + TimeSpan.FromSeconds(30));
        _delivery.Tell(new VerifyRecipient(recipient));
    }

    private void OnRecipientVerified(RecipientVerified verified)
    {
        if (DeferWhileFlushing())
        {
            return;
        }

        if (_mode != Mode.AwaitingVerification || _pendingRecipient is null || _transaction is null)
        {
            return;
        }

        Timers.Cancel(IoTimer);
        var recipient = _pendingRecipient;
        _pendingRecipient = null;
        _mode = Mode.Commands;
        if (verified.Rejection is { } rejection)
        {
            _log.Info("{SessionId}: reject: RCPT from {Remote}: {Reply}; from=<{From}> to=<{To}>",
                _sessionId, _remote, rejection.ToString(), _transaction.ReversePath?.Address ?? "", recipient.Address);
            ServerMetrics.RecipientRejected(RecipientRejection.UnknownMailbox);
            if (recipient.NeedsSmtpUtf8 && rejection.Code == 501)
            {
                // An MDA without SMTPUTF8 (Dovecot 2.3) calls a UTF-8 address a syntax error; RFC 6531 section 3.5
                // names the real reason.
                Reply(553, "5.6.7", "Non-ASCII address not supported by the mailbox server: " + recipient.Address);
            }
            else
            {
                Reply(rejection.Code, rejection.EnhancedCode ?? "5.1.1", "Mailbox unavailable: " + recipient.Address);
            }
        }
        else
        {
            _transaction.Recipients.Add(recipient);
            if (_pendingRecipientParameters.Count > 0)
            {
                _transaction.RecipientParameters[recipient.Address] = _pendingRecipientParameters;
            }

            Reply(250, "2.1.5", "Ok");
        }

        ContinueAfterProcessing();
    }

    private void Rset(ReadOnlySpan<char> argument)
    {
        if (argument.Length > 0)
        {
            Reply(501, "5.5.4", "Syntax: RSET");
            return;
        }

        ResetTransaction();
        Reply(250, "2.0.0", "Ok");
    }

    private void Vrfy(ReadOnlySpan<char> argument)
    {
        if (argument.Trim().IsEmpty)
        {
            Reply(501, "5.5.4", "Syntax: VRFY address");
            return;
        }

        // RFC 5321 section 3.5.3: 252 when the server will not verify but will accept mail for the address.
        Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
    }
}

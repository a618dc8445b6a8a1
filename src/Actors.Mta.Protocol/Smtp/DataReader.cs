using System.Buffers;

namespace Actors.Mta.Protocol.Smtp;

/// <summary>What the data reader does with a CR or LF that is not part of a CRLF pair.</summary>
public enum BareLineEndingPolicy
{
    /// <summary>Mark the message as invalid; it is read to its end and then rejected.</summary>
    Reject,

    /// <summary>Write a CRLF in its place.</summary>
    Normalize,
}

/// <summary>Why a message read by <see cref="DataReader"/> cannot be accepted.</summary>
public enum DataError
{
    None,
    MessageTooLarge,
    BareLineEnding,
    NulCharacter,

    /// <summary>A line, CRLF included, is longer than the reader's maximum line length.</summary>
    LineTooLong,
}

/// <summary>
/// Reads SMTP DATA content (RFC 5321 section 4.1.1.4 and 4.5.2): removes dot-stuffing and finds the end
/// of the data, which is a line holding a single dot after a CRLF. A line that ended with a bare CR or LF
/// never starts the terminating dot line, so "LF.LF", "CR.CR", "LF.CRLF" and their mixes stay message
/// content and cannot smuggle a second message (the SMTP smuggling attacks published in 2023).
/// </summary>
/// <remarks>
/// The reader keeps a few bytes of state between calls, so input may be split anywhere. After an error it
/// goes on reading to the end of the data without writing, so the client's data is never taken for commands.
/// </remarks>
public sealed class DataReader
{
    private enum State
    {
        LineStart,
        Dot,
        DotCr,
        InLine,
        Cr,
    }

    // Maximum input bytes read per requested output span. That span is up to twice as long, so without this
    // cap an input span of 1 GiB or more would overflow the span length, an int.
    internal const int MaxChunkLength = 16 * 1024;

    private readonly long _maxMessageSize;
    private readonly BareLineEndingPolicy _bareLineEndings;
    private readonly bool _allowNul;
    private readonly long _maxLineLength;
    private State _state = State.LineStart;

    // Octets of the current line as received, dot-stuffing and line ending included.
    private long _lineLength;

    // Whether the line before the current one ended with CRLF. Only then can a "." line end the data.
    private bool _previousLineEndedWithCrlf = true;

    /// <param name="maxMessageSize">Largest message in bytes, counted after unstuffing.</param>
    /// <param name="bareLineEndings">What to do with a bare CR or LF.</param>
    /// <param name="allowNul">Whether NUL octets are message content (BINARYMIME) or an error.</param>
    /// <param name="maxLineLength">
    /// Longest line in octets as received, dot-stuffing and the line ending included; a longer line is a
    /// <see cref="DataError.LineTooLong"/>. A bare CR or LF ends a line for this count.
    /// </param>
    public DataReader(long maxMessageSize, BareLineEndingPolicy bareLineEndings, bool allowNul = false, long maxLineLength = long.MaxValue)
    {
        _maxMessageSize = maxMessageSize;
        _bareLineEndings = bareLineEndings;
        _allowNul = allowNul;
        _maxLineLength = maxLineLength;
    }

    /// <summary>Bytes of message content so far, counted even after an error.</summary>
    public long MessageSize { get; private set; }

    /// <summary>The first error found, or <see cref="DataError.None"/>.</summary>
    public DataError Error { get; private set; }

    /// <summary>True once the terminating CRLF.CRLF has been read.</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>
    /// Reads from <paramref name="input"/> until the end of the data or of the input, writing message content
    /// to <paramref name="output"/>. Returns the number of bytes consumed; any bytes after the end of the data
    /// are left unconsumed, since they are the client's next command.
    /// </summary>
    public long Read(ReadOnlySequence<byte> input, IBufferWriter<byte> output)
    {
        long consumed = 0;
        foreach (ReadOnlyMemory<byte> segment in input)
        {
            int used = Read(segment.Span, output);
            consumed += used;
            if (IsCompleted)
            {
                break;
            }
        }

        return consumed;
    }

    /// <summary>Span overload of <see cref="Read(ReadOnlySequence{byte}, IBufferWriter{byte})"/>.</summary>
    public int Read(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        int consumed = 0;
        while (consumed < input.Length && !IsCompleted)
        {
            int length = Math.Min(input.Length - consumed, MaxChunkLength);
            consumed += ReadChunk(input.Slice(consumed, length), output);
        }

        return consumed;
    }

    private int ReadChunk(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        // Each input byte yields at most two output bytes (a bare LF becomes CRLF), plus a held-back CR.
        Span<byte> buffer = output.GetSpan(input.Length * 2 + 2);
        int written = 0;
        int i = 0;
        while (i < input.Length && !IsCompleted)
        {
            if (_state == State.InLine && Error == DataError.None)
            {
                // Fast path inside a line: copy the run up to the next CR, LF or NUL in one go. The run is cut
                // short of the size and line-length limits, so the byte-by-byte path below handles any byte
                // that sets an error, exactly as it would without this shortcut.
                int run = PlainRunLength(input[i..]);
                if (run > 0)
                {
                    input.Slice(i, run).CopyTo(buffer[written..]);
                    written += run;
                    i += run;
                    MessageSize += run;
                    _lineLength += run;
                    continue;
                }
            }

            byte b = input[i++];

            // After a CR the byte either completes the line (LF, checked below) or starts the next one.
            if (++_lineLength > _maxLineLength && _state is not (State.Cr or State.DotCr))
            {
                SetError(DataError.LineTooLong);
            }

            switch (_state)
            {
                case State.LineStart:
                    if (b == (byte)'.' && _previousLineEndedWithCrlf)
                    {
                        _state = State.Dot;
                    }
                    else
                    {
                        InLine(b, buffer, ref written);
                    }

                    break;

                case State.Dot:
                    if (b == (byte)'\r')
                    {
                        _state = State.DotCr;
                    }
                    else
                    {
                        // A leading dot is dot-stuffing: drop it and read the byte as line content.
                        InLine(b, buffer, ref written);
                    }

                    break;

                case State.DotCr:
                    if (b == (byte)'\n')
                    {
                        IsCompleted = true;
                    }
                    else
                    {
                        // ".\r" then something else: the CR was bare. The stuffing dot is dropped.
                        BareLineEnding(buffer, ref written);
                        _state = State.LineStart;
                        _lineLength = 1;
                        InLineAfterBare(b, buffer, ref written);
                    }

                    break;

                case State.InLine:
                    InLine(b, buffer, ref written);
                    break;

                case State.Cr:
                    if (b == (byte)'\n')
                    {
                        if (_lineLength > _maxLineLength)
                        {
                            SetError(DataError.LineTooLong);
                        }

                        Emit(buffer, ref written, (byte)'\r');
                        Emit(buffer, ref written, (byte)'\n');
                        _previousLineEndedWithCrlf = true;
                        _state = State.LineStart;
                        _lineLength = 0;
                    }
                    else
                    {
                        BareLineEnding(buffer, ref written);
                        _state = State.LineStart;
                        _lineLength = 1;
                        InLineAfterBare(b, buffer, ref written);
                    }

                    break;
            }
        }

        output.Advance(written);
        return i;
    }

    // After a bare CR the next byte starts a new line, but one that cannot end the data.
    // Bytes at the start of input that are plain line content: no CR, LF or (unless allowed) NUL, and not
    // past the message size or line length limits.
    private int PlainRunLength(ReadOnlySpan<byte> input)
    {
        int run = _allowNul ? input.IndexOfAny((byte)'\r', (byte)'\n') : input.IndexOfAny((byte)'\r', (byte)'\n', (byte)0);
        if (run < 0)
        {
            run = input.Length;
        }

        long sizeRoom = _maxMessageSize - MessageSize;
        long lineRoom = _maxLineLength - _lineLength;
        return (int)Math.Max(0, Math.Min(run, Math.Min(sizeRoom, lineRoom)));
    }

    private void InLineAfterBare(byte b, Span<byte> buffer, ref int written)
    {
        if (b == (byte)'\r')
        {
            _state = State.Cr;
            return;
        }

        InLine(b, buffer, ref written);
    }

    private void InLine(byte b, Span<byte> buffer, ref int written)
    {
        switch (b)
        {
            case (byte)'\r':
                _state = State.Cr;
                return;
            case (byte)'\n':
                BareLineEnding(buffer, ref written);
                _state = State.LineStart;
                _lineLength = 0;
                return;
            case 0 when !_allowNul:
                SetError(DataError.NulCharacter);
                break;
        }

        Emit(buffer, ref written, b);
        _state = State.InLine;
    }

    private void BareLineEnding(Span<byte> buffer, ref int written)
    {
        _previousLineEndedWithCrlf = false;
        if (_bareLineEndings == BareLineEndingPolicy.Reject)
        {
            SetError(DataError.BareLineEnding);
            return;
        }

        Emit(buffer, ref written, (byte)'\r');
        Emit(buffer, ref written, (byte)'\n');
    }

    private void Emit(Span<byte> buffer, ref int written, byte b)
    {
        MessageSize++;
        if (MessageSize > _maxMessageSize)
        {
            SetError(DataError.MessageTooLarge);
        }

        if (Error == DataError.None)
        {
            buffer[written++] = b;
        }
    }

    private void SetError(DataError error)
    {
        if (Error == DataError.None)
        {
            Error = error;
        }
    }
}

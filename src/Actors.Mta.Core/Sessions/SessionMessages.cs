using System.IO.Pipelines;

namespace Actors.Mta.Core.Sessions;

/// <summary>Messages a session sends itself when its asynchronous I/O completes.</summary>
internal static class SessionIo
{
    public sealed record ReadCompleted(ReadResult Result);

    public sealed record ReadFailed(Exception Error);

    public sealed record Flushed(bool IsCompleted);

    public sealed record WriteFailed(Exception Error);

    /// <summary>Writing message bytes to the spool file failed (a full disk, say); the message is read to its end and rejected.</summary>
    public sealed record SpoolWriteFailed(Exception Error);

    /// <summary>Flushing or closing the spool file after the last byte failed, so the message is not on disk whole.</summary>
    public sealed record SpoolCloseFailed(Exception Error);

    public sealed record DataWritten;

    public sealed record SpoolClosed(long Size);

    public sealed record TimedOut(string Phase);

    public sealed record TlsStarted(TlsSessionInfo Info);

    public sealed record TlsFailed(Exception Error);
}

/// <summary>
/// Makes a session throw from inside its message handler, as a bug would. Tests use it to show that a
/// crashed session is stopped, its client sent 421, and no other session disturbed.
/// </summary>
internal sealed record InjectFault(string Reason);

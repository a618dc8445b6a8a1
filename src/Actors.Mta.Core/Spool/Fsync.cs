using System.Runtime.InteropServices;

namespace Actors.Mta.Core.Spool;

/// <summary>
/// Makes directory entries durable. .NET flushes file contents with <see cref="FileStream.Flush(bool)"/>, but
/// has no call that fsyncs a directory, which a rename or a new file needs before it survives a crash
/// (see fsync(2): "calling fsync() on the file does not necessarily ensure that the entry in the directory
/// containing the file has also reached disk").
/// </summary>
internal static partial class Fsync
{
    private const int ReadOnly = 0;
    private const int OpenDirectory = 0x10000; // O_DIRECTORY on Linux

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncDescriptor(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    /// <summary>Fsyncs a directory so that entries created, renamed or removed in it are on disk. Throws IOException on failure.</summary>
    public static void Directory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(path, ReadOnly | OpenDirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {path} to fsync it: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (FsyncDescriptor(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            Close(fd);
        }
    }
}

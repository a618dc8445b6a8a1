using System.Runtime.InteropServices;

namespace Actors.Mta.Core.Spool;

/// <summary>
/// The data of one message, Received header included, as stored: in memory for a message no larger than
/// limits.memory-message-size, otherwise in a file of the spool. Neither form is durable by itself, because
/// only the queue fsyncs a message.
/// </summary>
/// <remarks>
/// In-memory data is never written after it is handed over, so actors can share an instance. A small message
/// kept in memory saves creating and deleting a spool file for every message, the largest cost of the 5 KB
/// case in the profile (ext4's inode allocation).
/// </remarks>
public sealed class MessageData
{
    private readonly ReadOnlyMemory<byte> _bytes;

    private MessageData(string? file, ReadOnlyMemory<byte> bytes)
    {
        File = file;
        _bytes = bytes;
    }

    /// <summary>The spool file, or null for data held in memory.</summary>
    public string? File { get; }

    public bool InMemory => File is null;

    public static MessageData FromFile(string path) => new(path, ReadOnlyMemory<byte>.Empty);

    /// <param name="bytes">The message. The caller gives up the buffer and never writes to it again.</param>
    public static MessageData FromMemory(ReadOnlyMemory<byte> bytes) => new(null, bytes);

    /// <summary>A path names file data, so callers and tests that deal in spool files can pass one as it is.</summary>
    public static implicit operator MessageData(string path) => FromFile(path);

    /// <summary>Opens the data for reading from the start. A file is opened for asynchronous, sequential reads.</summary>
    public Stream OpenRead()
    {
        if (File is null)
        {
            // Not copied: the buffers handed over here are arrays (ArrayBufferWriter's).
            var array = MemoryMarshal.TryGetArray(_bytes, out var segment) ? segment : new ArraySegment<byte>(_bytes.ToArray());
            return new MemoryStream(array.Array!, array.Offset, array.Count, writable: false);
        }

        return new FileStream(File, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
    }

    public byte[] ReadAllBytes() => File is null ? _bytes.ToArray() : System.IO.File.ReadAllBytes(File);

    /// <summary>Writes the data to a new file at <paramref name="path"/>, fsynced when <paramref name="flushToDisk"/> is set.</summary>
    public void WriteTo(string path, bool flushToDisk)
    {
        if (File is not null && !flushToDisk)
        {
            System.IO.File.Copy(File, path, overwrite: true);
            return;
        }

        using var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        if (File is null)
        {
            target.Write(_bytes.Span);
        }
        else
        {
            using var source = OpenRead();
            source.CopyTo(target);
        }

        target.Flush(flushToDisk);
    }

    /// <summary>Deletes the spool file, if the data is in one. Blocks on the disk.</summary>
    public void Delete()
    {
        if (File is not null)
        {
            System.IO.File.Delete(File);
        }
    }

    public override string ToString() => File ?? $"(memory, {_bytes.Length} bytes)";
}

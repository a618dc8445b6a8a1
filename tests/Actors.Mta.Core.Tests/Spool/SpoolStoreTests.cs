using System.Text;
using Actors.Mta.Core.Spool;
using Actors.Mta.Core.Tests.Infrastructure;

namespace Actors.Mta.Core.Tests.Spool;

/// <summary>
/// <see cref="SpoolStore.LoadAll"/> on the states a crash can leave between the steps of a queue write: each
/// test builds the files on disk as the write would have left them and loads the queue.
/// </summary>
public sealed class SpoolStoreTests : IDisposable
{
    private const string MessageText = "Subject: test\r\n\r\nHello\r\n";

    private readonly TempDirectory _temp = new();
    private readonly SpoolStore _store;

    public SpoolStoreTests()
    {
        _store = new SpoolStore(Path.Combine(_temp.Path, "spool"));
        _store.CreateDirectories();
    }

    public void Dispose() => _temp.Dispose();

    private static QueueEntry NewEntry(int attempts = 1) => new()
    {
        QueueId = QueueId.New(),
        Sender = "sender@example.net",
        MailParameters = [],
        Recipients = [new QueuedRecipient("alice@example.com", "451 4.2.2 Mailbox full")],
        ArrivalTime = DateTimeOffset.UtcNow,
        Attempts = attempts,
        NextAttempt = DateTimeOffset.UtcNow.AddMinutes(1),
        Size = MessageText.Length,
    };

    private string WriteIncoming(string queueId)
    {
        string path = Path.Combine(_store.Incoming, queueId);
        File.WriteAllText(path, MessageText);
        return path;
    }

    [Fact]
    public void LoadAll_CompleteMessageIsLoaded()
    {
        var entry = NewEntry(attempts: 3);
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);

        var (entries, unreadable) = _store.LoadAll();

        var loaded = Assert.Single(entries);
        Assert.Empty(unreadable);
        Assert.Equal(entry.QueueId, loaded.QueueId);
        Assert.Equal(3, loaded.Attempts);
        Assert.Equal(entry.NextAttempt, loaded.NextAttempt);
        Assert.Equal(["alice@example.com"], loaded.Recipients.Select(r => r.Address));
        Assert.True(File.Exists(_store.DataPath(entry.QueueId)));
        Assert.True(File.Exists(_store.EnvelopePath(entry.QueueId)));
    }

    // Enqueue crashed after moving the data and before writing the envelope: the client never got 250, so the
    // data is a leftover and must not be delivered.
    [Fact]
    public void LoadAll_DataWithoutEnvelopeIsDeleted()
    {
        var entry = NewEntry();
        File.Move(WriteIncoming(entry.QueueId), _store.DataPath(entry.QueueId));

        var (entries, unreadable) = _store.LoadAll();

        Assert.Empty(entries);
        Assert.Empty(unreadable);
        Assert.False(File.Exists(_store.DataPath(entry.QueueId)));
    }

    // Enqueue crashed while writing the first envelope: only the temporary file exists next to the data.
    [Fact]
    public void LoadAll_FirstEnvelopeTemporaryIsDeleted()
    {
        var entry = NewEntry();
        File.Move(WriteIncoming(entry.QueueId), _store.DataPath(entry.QueueId));
        string temporary = _store.EnvelopePath(entry.QueueId) + ".tmp";
        File.WriteAllText(temporary, """{"QueueId":""");

        var (entries, unreadable) = _store.LoadAll();

        Assert.Empty(entries);
        Assert.Empty(unreadable);
        Assert.False(File.Exists(temporary));
        Assert.False(File.Exists(_store.DataPath(entry.QueueId)));
    }

    // A rewrite of the envelope after an attempt crashed before the rename: the old envelope stays valid.
    [Fact]
    public void LoadAll_UnrenamedRewriteKeepsOldEnvelope()
    {
        var entry = NewEntry(attempts: 1);
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);
        string temporary = _store.EnvelopePath(entry.QueueId) + ".tmp";
        File.WriteAllText(temporary, """{"QueueId":""" + "\"" + entry.QueueId + "\",\"Attempts\":2");

        var (entries, unreadable) = _store.LoadAll();

        var loaded = Assert.Single(entries);
        Assert.Empty(unreadable);
        Assert.Equal(1, loaded.Attempts);
        Assert.False(File.Exists(temporary));
        Assert.True(File.Exists(_store.DataPath(entry.QueueId)));
    }

    // Remove deletes the envelope before the data, so an envelope without data is damage, not a crash leftover:
    // it is reported and left for the operator.
    [Fact]
    public void LoadAll_EnvelopeWithoutDataIsUnreadable()
    {
        var entry = NewEntry();
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);
        File.Delete(_store.DataPath(entry.QueueId));

        var (entries, unreadable) = _store.LoadAll();

        Assert.Empty(entries);
        Assert.Equal([_store.EnvelopePath(entry.QueueId)], unreadable);
        Assert.True(File.Exists(_store.EnvelopePath(entry.QueueId)));
    }

    [Fact]
    public void LoadAll_TruncatedEnvelopeIsUnreadable()
    {
        var entry = NewEntry();
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);
        string envelopePath = _store.EnvelopePath(entry.QueueId);
        string json = File.ReadAllText(envelopePath);
        File.WriteAllText(envelopePath, json[..(json.Length / 2)]);

        var (entries, unreadable) = _store.LoadAll();

        Assert.Empty(entries);
        Assert.Equal([envelopePath], unreadable);
        Assert.True(File.Exists(envelopePath));
        Assert.True(File.Exists(_store.DataPath(entry.QueueId)));
    }

    [Fact]
    public void LoadAll_EmptyEnvelopeIsUnreadable()
    {
        var entry = NewEntry();
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);
        File.WriteAllText(_store.EnvelopePath(entry.QueueId), "");

        var (entries, unreadable) = _store.LoadAll();

        Assert.Empty(entries);
        Assert.Equal([_store.EnvelopePath(entry.QueueId)], unreadable);
    }

    [Fact]
    public void LoadAll_DamageLeavesOtherMessagesLoaded()
    {
        var good = NewEntry();
        var damaged = NewEntry();
        _store.Enqueue(WriteIncoming(good.QueueId), good);
        _store.Enqueue(WriteIncoming(damaged.QueueId), damaged);
        File.WriteAllText(_store.EnvelopePath(damaged.QueueId), "{");

        var (entries, unreadable) = _store.LoadAll();

        Assert.Equal([good.QueueId], entries.Select(e => e.QueueId));
        Assert.Equal([_store.EnvelopePath(damaged.QueueId)], unreadable);
    }

    [Fact]
    public void Enqueue_MovesIncomingFile()
    {
        var entry = NewEntry();
        string incoming = WriteIncoming(entry.QueueId);

        _store.Enqueue(incoming, entry);

        Assert.False(File.Exists(incoming));
        Assert.Equal(MessageText, File.ReadAllText(_store.DataPath(entry.QueueId)));
    }

    [Fact]
    public void Enqueue_WritesInMemoryData()
    {
        var entry = NewEntry();

        _store.Enqueue(MessageData.FromMemory(Encoding.UTF8.GetBytes(MessageText)), entry);

        Assert.Equal(MessageText, File.ReadAllText(_store.DataPath(entry.QueueId)));
        Assert.True(File.Exists(_store.EnvelopePath(entry.QueueId)));
    }

    [Fact]
    public void Remove_DeletesBothFiles()
    {
        var entry = NewEntry();
        _store.Enqueue(WriteIncoming(entry.QueueId), entry);

        _store.Remove(entry.QueueId);

        Assert.False(File.Exists(_store.EnvelopePath(entry.QueueId)));
        Assert.False(File.Exists(_store.DataPath(entry.QueueId)));
        Assert.Empty(_store.LoadAll().Entries);
    }
}

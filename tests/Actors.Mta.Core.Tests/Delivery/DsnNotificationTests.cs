using System.Text;
using System.Text.Json;
using Actors.Mta.Core.Queue;
using Actors.Mta.Core.Spool;
using Actors.Mta.Core.Tests.Infrastructure;
using MimeKit;

namespace Actors.Mta.Core.Tests.Delivery;

/// <summary>
/// What the DSN parameters change in a notification (RET, ENVID, ORCPT), and queue entries with and without the
/// recipient parameters that older entries lack.
/// </summary>
public sealed class DsnNotificationTests : IDisposable
{
    private const string Original = "Received: from client.example\r\nSubject: original\r\nMessage-ID: <m1@example.net>\r\n\r\nThe body text.\r\n";

    private readonly TempDirectory _temp = new();
    private readonly string _originalFile;

    public DsnNotificationTests()
    {
        _originalFile = Path.Combine(_temp.Path, "original.eml");
        File.WriteAllText(_originalFile, Original);
    }

    private MimeMessage Build(NotificationOptions? options, FailedRecipient? recipient = null)
    {
        recipient ??= new FailedRecipient("alice@example.com", "550 5.1.1 No such user", "5.1.1");
        byte[] bytes = DeliveryStatusNotification.Build("mx.test", "Q1", "sender@example.net", DateTimeOffset.UtcNow,
            [recipient], _originalFile, options);
        return MimeMessage.Load(new MemoryStream(bytes));
    }

    private static IEnumerable<HeaderList> Groups(MimeMessage message) =>
        ((MultipartReport)message.Body).OfType<MessageDeliveryStatus>().Single().StatusGroups;

    [Fact]
    public void Build_DefaultReturnsHeadersOnly()
    {
        var report = (MultipartReport)Build(null).Body;

        var headers = Assert.Single(report.OfType<TextRfc822Headers>());
        Assert.Equal("<m1@example.net>", "<" + headers.Message.MessageId + ">");
        Assert.Empty(report.OfType<MessagePart>().Where(p => p is not TextRfc822Headers));
    }

    [Fact]
    public void Build_RetFullReturnsWholeMessage()
    {
        var report = (MultipartReport)Build(new NotificationOptions(null, ReturnFullMessage: true)).Body;

        var part = Assert.Single(report.OfType<MessagePart>(), p => p is not TextRfc822Headers);
        Assert.Equal("message/rfc822", part.ContentType.MimeType);
        Assert.Equal("The body text.", part.Message.TextBody.TrimEnd());
        Assert.Equal("<m1@example.net>", "<" + part.Message.MessageId + ">");
        Assert.Empty(report.OfType<TextRfc822Headers>());
    }

    [Fact]
    public void Build_EnvelopeIdIsFirstField()
    {
        var perMessage = Groups(Build(new NotificationOptions("QQ+314", false))).First();

        Assert.Equal("QQ+314", perMessage["Original-Envelope-Id"]);
        Assert.Equal("Original-Envelope-Id", perMessage[0].Field);
    }

    [Fact]
    public void Build_OriginalRecipientBeforeFinal()
    {
        var recipient = new FailedRecipient("alice@example.com", "550 5.1.1 No such user", "5.1.1") { OriginalRecipient = "rfc822;a+b@example.com" };

        var fields = Groups(Build(null, recipient)).Single(g => g.Contains("Final-Recipient"));

        Assert.Equal("rfc822;a+b@example.com", fields["Original-Recipient"]);
        Assert.Equal("Original-Recipient", fields[0].Field);
    }

    [Fact]
    public void Build_WithoutDsnParametersHasNoDsnFields()
    {
        var groups = Groups(Build(null)).ToList();

        Assert.DoesNotContain(groups, g => g.Contains("Original-Envelope-Id"));
        Assert.DoesNotContain(groups, g => g.Contains("Original-Recipient"));
    }

    [Fact]
    public void QueueEntry_OldFormatLoadsWithoutParameters()
    {
        // An envelope as written before recipients had parameters.
        const string json = """
            {"QueueId":"Q1","Sender":"s@example.net","MailParameters":[],"Recipients":[{"Address":"a@example.com","LastReply":"451 busy"}],
             "ArrivalTime":"2026-01-01T00:00:00+00:00","Attempts":1,"NextAttempt":"2026-01-01T00:01:00+00:00","Size":10,"IsNotification":false}
            """;

        var entry = JsonSerializer.Deserialize<QueueEntry>(json)!;

        var recipient = Assert.Single(entry.Recipients);
        Assert.Equal("a@example.com", recipient.Address);
        Assert.Null(recipient.Parameters);
    }

    [Fact]
    public void QueueEntry_ParametersSurviveSpool()
    {
        var store = new SpoolStore(_temp.Subdirectory("spool"));
        store.CreateDirectories();
        var entry = new QueueEntry
        {
            QueueId = "Q2",
            Sender = "s@example.net",
            MailParameters = [new("RET", "HDRS"), new("ENVID", "id+2B1")],
            Recipients = [new QueuedRecipient("a@example.com", "451 busy", [new("NOTIFY", "NEVER"), new("ORCPT", "rfc822;a@example.com")]),
                new QueuedRecipient("b@example.com", "451 busy")],
            ArrivalTime = DateTimeOffset.UtcNow,
            Attempts = 1,
            NextAttempt = DateTimeOffset.UtcNow,
            Size = 10,
        };
        store.EnqueueNew(Encoding.ASCII.GetBytes(Original), entry);

        var loaded = Assert.Single(store.LoadAll().Entries);

        Assert.Equal(entry.MailParameters, loaded.MailParameters);
        Assert.Equal([new("NOTIFY", "NEVER"), new("ORCPT", "rfc822;a@example.com")], loaded.Recipients[0].Parameters!);
        Assert.Null(loaded.Recipients[1].Parameters);
    }

    public void Dispose() => _temp.Dispose();
}

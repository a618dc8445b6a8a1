using Xunit.Abstractions;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Base of the tests in the "End-to-end" collection: gives access to the shared Dovecot and server, and writes the
/// server's output during the test to the test output, which the runner shows for failed tests.
/// </summary>
[Collection(EndToEndCollection.Name)]
public abstract class EndToEndTest : IDisposable
{
    private readonly EndToEndFixture fixture;
    private ServerProcess? server;
    private int serverLogStart;

    protected EndToEndTest(EndToEndFixture fixture, ITestOutputHelper output)
    {
        this.fixture = fixture;
        Output = output;
    }

    protected ITestOutputHelper Output { get; }

    protected DovecotFixture Dovecot => fixture.Dovecot;

    /// <summary>Returns the shared server, started on first use.</summary>
    protected async Task<ServerProcess> ServerAsync()
    {
        var current = await fixture.GetServerAsync();
        if (!ReferenceEquals(current, server))
        {
            server = current;
            serverLogStart = current.Output.Count;
        }

        return current;
    }

    /// <summary>
    /// Asserts that <paramref name="user"/> received exactly one new message since <paramref name="mark"/> and that
    /// it is <paramref name="original"/> byte for byte after the trace fields: one Received field from the server
    /// under test and Dovecot's Return-Path with <paramref name="sender"/>.
    /// </summary>
    protected StoredMessage AssertDeliveredExactly(MailboxMark mark, string user, byte[] original, string sender)
    {
        var delivered = mark.NewMessages(Dovecot, user);
        Assert.True(delivered.Count == 1, $"{user} has {delivered.Count} new messages, expected 1.");

        var stored = StoredMessage.Compare(delivered[0].Content, original);
        Output.WriteLine($"--- trace fields stored for {user}");
        Output.WriteLine(string.Concat(stored.TraceFields.Select(f => f.Raw)));
        Assert.True(stored.Mismatch is null, $"{user}: {stored.Mismatch}\nfile: {delivered[0].Path}");

        var received = Assert.Single(stored.FieldsNamed("Received"));
        Assert.Contains(ServerProcess.TestServerName, received.Raw);

        var returnPath = Assert.Single(stored.FieldsNamed("Return-Path"));
        Assert.Equal($"Return-Path: <{sender}>\r\n", returnPath.Raw);
        return stored;
    }

    public void Dispose()
    {
        if (server is not null)
        {
            Output.WriteLine($"--- server output during this test (config {server.ConfigPath})");
            Output.WriteLine(server.Output.Since(serverLogStart));
        }

        GC.SuppressFinalize(this);
    }
}

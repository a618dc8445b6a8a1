namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Shared by the "End-to-end" collection: one private Dovecot and one server that delivers to it over LMTP.
/// The server starts on first use, so a broken server fails only the tests that need it.
/// </summary>
public sealed class EndToEndFixture : IAsyncLifetime
{
    private Task<ServerProcess>? serverStart;

    public DovecotFixture Dovecot { get; } = new();

    /// <summary>Returns the shared server, starting it on the first call.</summary>
    public Task<ServerProcess> GetServerAsync()
    {
        // Tests in one collection run one at a time, so no lock is needed. A server that failed to start or has
        // exited since is replaced, so one crash does not fail every later test for the same reason.
        if (serverStart is { IsCompletedSuccessfully: true } && serverStart.Result.HasExited)
        {
            serverStart.Result.Dispose();
            serverStart = null;
        }

        if (serverStart is null || serverStart.IsFaulted)
        {
            serverStart = ServerProcess.StartAsync(Dovecot.LmtpDestination);
        }

        return serverStart;
    }

    public Task InitializeAsync() => Dovecot.InitializeAsync();

    public async Task DisposeAsync()
    {
        if (serverStart is { IsCompletedSuccessfully: true })
        {
            await serverStart.Result.DisposeAsync();
        }

        await Dovecot.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<EndToEndFixture>
{
    public const string Name = "End-to-end";
}

/// <summary>Tests that bind the default port 2525 of the root akka.hocon; they never run in parallel with others.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DefaultPortCollection
{
    public const string Name = "Default port 2525";
}

using System.Net;
using System.Net.Sockets;
using Actors.Mta.Core.Listening;
using Actors.Mta.Core.Sessions;
using Actors.Mta.Core.Tests.Infrastructure;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Actors.Mta.Core.Tests.Listening;

/// <summary>The listener on 127.0.0.1: it binds the configured endpoints or takes inherited sockets, and hands each connection on.</summary>
public sealed class ListenerActorTests(ITestOutputHelper output) : MtaTestKit(output)
{
    private (IActorRef Listener, TestProbe Sessions) StartListener(IReadOnlyList<InheritedSocket> inherited)
    {
        var sessions = CreateTestProbe();
        var settings = SessionSettings("listen.endpoints = [\"127.0.0.1:0\"]");
        var listener = Sys.ActorOf(ListenerActor.Props(settings, sessions, inherited));
        return (listener, sessions);
    }

    private static IPEndPoint SingleEndpoint(ListenerActor.Listening listening) =>
        Assert.IsType<IPEndPoint>(Assert.Single(listening.Endpoints));

    [Fact]
    public async Task Listener_BindsConfiguredEndpoint()
    {
        var (listener, _) = StartListener([]);

        var listening = await listener.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, Wait);
        var endpoint = SingleEndpoint(listening);

        Assert.Equal(IPAddress.Loopback, endpoint.Address);
        Assert.NotEqual(0, endpoint.Port);
        Assert.False(listening.Inherited);
    }

    [Fact]
    public async Task Listener_HandsConnectionToSupervisor()
    {
        var (listener, sessions) = StartListener([]);
        var endpoint = SingleEndpoint(await listener.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, Wait));

        using var client = new TcpClient();
        await client.ConnectAsync(endpoint);
        var start = sessions.ExpectMsg<SessionSupervisor.StartSession>(Wait);
        start.Transport.Close();

        Assert.Equal(((IPEndPoint)client.Client.LocalEndPoint!).Port, start.Transport.RemoteEndPoint?.Port);
        Assert.Equal(endpoint, start.Transport.LocalEndPoint);
    }

    [Fact]
    public async Task Listener_AcceptsManyConnections()
    {
        var (listener, sessions) = StartListener([]);
        var endpoint = SingleEndpoint(await listener.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, Wait));
        var clients = Enumerable.Range(0, 3).Select(_ => new TcpClient()).ToList();

        foreach (var client in clients)
        {
            await client.ConnectAsync(endpoint);
        }

        var starts = Enumerable.Range(0, 3).Select(_ => sessions.ExpectMsg<SessionSupervisor.StartSession>(Wait)).ToList();
        starts.ForEach(s => s.Transport.Close());
        clients.ForEach(c => c.Dispose());

        Assert.Equal(3, starts.Select(s => s.Transport.RemoteEndPoint).Distinct().Count());
    }

    [Fact]
    public async Task Listener_UsesInheritedSocketInstead()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(16);
        var (listener, sessions) = StartListener([new InheritedSocket(socket, "smtp")]);

        var listening = await listener.Ask<ListenerActor.Listening>(ListenerActor.GetEndpoints.Instance, Wait);
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)socket.LocalEndPoint!);
        var start = sessions.ExpectMsg<SessionSupervisor.StartSession>(Wait);
        start.Transport.Close();

        Assert.True(listening.Inherited);
        Assert.Equal(socket.LocalEndPoint, SingleEndpoint(listening));
    }
}

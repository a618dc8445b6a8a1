using System.Text;
using Actors.Mta.EndToEnd.Tests.Infrastructure;

namespace Actors.Mta.EndToEnd.Tests;

/// <summary>The comparison every delivery test relies on, checked without any server.</summary>
public sealed class StoredMessageTests
{
    private static readonly byte[] Original = Bytes("Return-Path: <original@example.net>\r\nSubject: s\r\n\r\nbody\r\n");

    [Fact]
    public void Compare_StripsPrependedTraceFields()
    {
        var stored = Bytes(
            "Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.com\r\n" +
            "Received: from client\r\n\tby mx.e2e.test with ESMTP id 1\r\n").Concat(Original).ToArray();

        var comparison = StoredMessage.Compare(stored, Original);

        Assert.Null(comparison.Mismatch);
        Assert.Equal(new[] { "Return-Path", "Delivered-To", "Received" }, comparison.TraceFields.Select(f => f.Name));
        Assert.Equal("Received: from client\r\n\tby mx.e2e.test with ESMTP id 1\r\n", comparison.TraceFields[2].Raw);
    }

    [Fact]
    public void Compare_KeepsOriginalReturnPath()
    {
        var stored = Bytes("Return-Path: <sender@example.net>\r\n").Concat(Original).ToArray();

        var comparison = StoredMessage.Compare(stored, Original);

        Assert.Null(comparison.Mismatch);
        Assert.Single(comparison.TraceFields);
    }

    [Fact]
    public void Compare_ReportsChangedByte()
    {
        var stored = Bytes("Received: by mx\r\n").Concat(Original).ToArray();
        stored[^3] = (byte)'X';

        var comparison = StoredMessage.Compare(stored, Original);

        Assert.NotNull(comparison.Mismatch);
        Assert.Contains("first difference", comparison.Mismatch);
    }

    [Fact]
    public void Compare_RejectsPrependedNonTraceField()
    {
        var stored = Bytes("X-Added: 1\r\n").Concat(Original).ToArray();

        var comparison = StoredMessage.Compare(stored, Original);

        Assert.NotNull(comparison.Mismatch);
    }

    [Fact]
    public void Compare_ReportsLostTrailingLine()
    {
        var stored = Bytes("Received: by mx\r\n").Concat(Original[..^2]).ToArray();

        var comparison = StoredMessage.Compare(stored, Original);

        Assert.NotNull(comparison.Mismatch);
    }

    [Fact]
    public void DotStuffing_DoublesLeadingDots()
    {
        var wire = DotStuffing.Stuff(Bytes(".a\r\nb\r\n..\r\n.\r\n"));

        Assert.Equal("..a\r\nb\r\n...\r\n..\r\n.\r\n", Encoding.ASCII.GetString(wire));
    }

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);
}

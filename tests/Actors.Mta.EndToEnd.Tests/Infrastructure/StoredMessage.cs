using System.Text;

namespace Actors.Mta.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One header field as it appears on the wire, including folded lines and the final CRLF; <paramref name="Length"/>
/// is in octets.
/// </summary>
public sealed record RawHeaderField(string Name, string Raw, int Length);

/// <summary>
/// Result of comparing a stored message with the message that was sent, after removing the trace fields the
/// servers prepended: the server's Received field, and Dovecot's Return-Path and Delivered-To.
/// </summary>
public sealed class StoredMessage
{
    private static readonly string[] TraceFieldNames = { "Return-Path", "Delivered-To", "Received" };

    private StoredMessage(IReadOnlyList<RawHeaderField> traceFields, byte[] body, string? mismatch)
    {
        TraceFields = traceFields;
        Content = body;
        Mismatch = mismatch;
    }

    /// <summary>Fields found before the original message, in order.</summary>
    public IReadOnlyList<RawHeaderField> TraceFields { get; }

    /// <summary>The stored bytes without <see cref="TraceFields"/>.</summary>
    public byte[] Content { get; }

    /// <summary>Null when the content equals the original byte for byte; otherwise where and how they differ.</summary>
    public string? Mismatch { get; }

    public IEnumerable<RawHeaderField> FieldsNamed(string name) =>
        TraceFields.Where(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Removes the leading trace fields that were not in <paramref name="original"/> and compares the rest with it.
    /// Only Received fields beyond those the original itself starts with are removed.
    /// </summary>
    public static StoredMessage Compare(byte[] stored, byte[] original)
    {
        var storedFields = LeadingFields(stored);
        var originalLeadingReceived = LeadingFields(original)
            .TakeWhile(f => IsTraceName(f.Name))
            .Count(f => f.Name.Equals("Received", StringComparison.OrdinalIgnoreCase));
        var storedLeadingReceived = storedFields
            .TakeWhile(f => IsTraceName(f.Name))
            .Count(f => f.Name.Equals("Received", StringComparison.OrdinalIgnoreCase));
        var receivedToRemove = storedLeadingReceived - originalLeadingReceived;

        var trace = new List<RawHeaderField>();
        var offset = 0;
        foreach (var field in storedFields)
        {
            var isReceived = field.Name.Equals("Received", StringComparison.OrdinalIgnoreCase);
            if (!IsTraceName(field.Name) || (isReceived && receivedToRemove == 0))
            {
                break;
            }

            if (isReceived)
            {
                receivedToRemove--;
            }

            trace.Add(field);
            offset += field.Length;
        }

        var content = stored[offset..];
        return new StoredMessage(trace, content, Describe(content, original));
    }

    /// <summary>Returns the header fields at the top of a message, up to the first line that is not part of one.</summary>
    public static IReadOnlyList<RawHeaderField> LeadingFields(byte[] message)
    {
        var fields = new List<RawHeaderField>();
        var position = 0;
        while (position < message.Length)
        {
            var end = LineEnd(message, position);
            var colon = Array.IndexOf(message, (byte)':', position, end - position);
            if (colon <= position || message[position] is (byte)' ' or (byte)'\t')
            {
                break;
            }

            // Folded continuation lines start with a space or a tab (RFC 5322 section 2.2.3).
            while (end < message.Length && message[end] is (byte)' ' or (byte)'\t')
            {
                end = LineEnd(message, end);
            }

            var name = Encoding.ASCII.GetString(message, position, colon - position);
            fields.Add(new RawHeaderField(name, Encoding.UTF8.GetString(message, position, end - position), end - position));
            position = end;
        }

        return fields;
    }

    private static bool IsTraceName(string name) =>
        TraceFieldNames.Any(n => n.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static int LineEnd(byte[] message, int start)
    {
        var newline = Array.IndexOf(message, (byte)'\n', start);
        return newline < 0 ? message.Length : newline + 1;
    }

    private static string? Describe(byte[] actual, byte[] expected)
    {
        var common = Math.Min(actual.Length, expected.Length);
        var first = 0;
        while (first < common && actual[first] == expected[first])
        {
            first++;
        }

        if (first == common && actual.Length == expected.Length)
        {
            return null;
        }

        return $"stored {actual.Length} octets, sent {expected.Length}; first difference at offset {first}\n" +
               $"  stored: {Excerpt(actual, first)}\n" +
               $"  sent:   {Excerpt(expected, first)}";
    }

    private static string Excerpt(byte[] bytes, int offset)
    {
        var start = Math.Max(0, offset - 40);
        var end = Math.Min(bytes.Length, offset + 40);
        var text = new StringBuilder();
        for (var i = start; i < end; i++)
        {
            var b = bytes[i];
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                < 0x20 or >= 0x7f => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
            if (i + 1 == offset)
            {
                text.Append('|');
            }
        }

        return (start > 0 ? "..." : "") + text + (end < bytes.Length ? "..." : "") + (offset >= bytes.Length ? " <end>" : "");
    }
}

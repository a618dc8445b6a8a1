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
    /// Removes the trace fields prepended to <paramref name="original"/> and compares the rest with it. The stored
    /// file matches when it ends with the original and everything before it consists of whole Received,
    /// Return-Path and Delivered-To fields, so fields of those names inside the original are never removed.
    /// </summary>
    public static StoredMessage Compare(byte[] stored, byte[] original)
    {
        if (stored.AsSpan().EndsWith(original))
        {
            var prefix = stored[..^original.Length];
            var fields = LeadingFields(prefix);
            var fieldsLength = fields.Sum(f => f.Length);
            var nonTrace = fields.FirstOrDefault(f => !IsTraceName(f.Name));
            if (fieldsLength == prefix.Length && nonTrace is null)
            {
                return new StoredMessage(fields, original, mismatch: null);
            }

            var unexpected = nonTrace?.Raw ?? Encoding.UTF8.GetString(prefix, fieldsLength, prefix.Length - fieldsLength);
            return new StoredMessage(fields, stored, $"the sent message is stored after unexpected content: {unexpected}");
        }

        return CompareAfterRemovingTrace(stored, original);
    }

    /// <summary>
    /// Explains a mismatch: removes the leading trace fields the original does not start with (only as many
    /// Received fields as the stored file has beyond the original's) and finds the first differing octet.
    /// </summary>
    private static StoredMessage CompareAfterRemovingTrace(byte[] stored, byte[] original)
    {
        var originalLeading = LeadingFields(original).TakeWhile(f => IsTraceName(f.Name)).ToList();
        var storedFields = LeadingFields(stored);
        var receivedToRemove =
            storedFields.TakeWhile(f => IsTraceName(f.Name)).Count(IsReceived) - originalLeading.Count(IsReceived);

        var trace = new List<RawHeaderField>();
        var offset = 0;
        foreach (var field in storedFields)
        {
            if (!IsTraceName(field.Name) || (IsReceived(field) && receivedToRemove <= 0))
            {
                break;
            }

            if (IsReceived(field))
            {
                receivedToRemove--;
            }

            trace.Add(field);
            offset += field.Length;
        }

        var content = stored[offset..];
        return new StoredMessage(trace, content, DescribeDifference(content, original) ?? "the stored file differs from the sent message");
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

    private static bool IsReceived(RawHeaderField field) =>
        field.Name.Equals("Received", StringComparison.OrdinalIgnoreCase);

    private static bool IsTraceName(string name) =>
        TraceFieldNames.Any(n => n.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static int LineEnd(byte[] message, int start)
    {
        var newline = Array.IndexOf(message, (byte)'\n', start);
        return newline < 0 ? message.Length : newline + 1;
    }

    /// <summary>Returns null when the arrays are equal, otherwise their lengths and the first differing offset with context.</summary>
    public static string? DescribeDifference(byte[] actual, byte[] expected)
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

        return $"actual {actual.Length} octets, expected {expected.Length}; first difference at offset {first}\n" +
               $"  actual:   {Excerpt(actual, first)}\n" +
               $"  expected: {Excerpt(expected, first)}";
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

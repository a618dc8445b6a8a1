using System.Globalization;
using System.Net;
using System.Text;

namespace Actors.Mta.Core.Sessions;

/// <summary>Builds the Received trace header that RFC 5321 section 4.4 asks a receiving server to prepend.</summary>
public static class ReceivedHeader
{
    /// <param name="protocol">The "with" value: SMTP, ESMTP, or UTF8SMTP (RFC 6531 section 3.7.3).</param>
    /// <param name="singleRecipient">The "for" clause, given only when the message has one recipient, so a header never lists other recipients.</param>
    public static byte[] Build(string heloName, IPAddress? clientAddress, string serverName, string protocol,
        string queueId, string? singleRecipient, DateTimeOffset time)
    {
        string address = clientAddress is null ? "unknown" : FormatAddress(clientAddress);
        var text = new StringBuilder();
        text.Append("Received: from ").Append(Sanitize(heloName)).Append(" ([").Append(address).Append("])\r\n");
        text.Append("\tby ").Append(serverName).Append(" (Actors.Mta) with ").Append(protocol).Append(" id ").Append(queueId);
        if (singleRecipient is not null)
        {
            text.Append("\r\n\tfor <").Append(singleRecipient).Append('>');
        }

        text.Append("; ").Append(time.ToString("ddd, d MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture));
        text.Append(time.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "")).Append("\r\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string FormatAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6:" + address : address.ToString();
    }

    // The HELO name is client input: keep it to one token of printable characters so it cannot break the header.
    private static string Sanitize(string text)
    {
        var chars = text.Select(c => c is > ' ' and not '(' and not ')' and not '\u007f' ? c : '_');
        string result = new(chars.Take(255).ToArray());
        return result.Length == 0 ? "unknown" : result;
    }
}

namespace Actors.Mta.Core.Delivery;

/// <summary>
/// Tells whether a BINARYMIME message (RFC 3030 section 3) can travel in DATA unchanged. DATA content is lines of
/// text ending in CRLF, so a message with a NUL octet or a CR or LF outside a CRLF pair cannot.
/// </summary>
public static class BinaryContent
{
    private const int BufferSize = 64 * 1024;

    /// <summary>Returns true when the message has BODY=BINARYMIME among its MAIL parameters.</summary>
    public static bool IsBinaryMime(IReadOnlyList<KeyValuePair<string, string?>> mailParameters) =>
        mailParameters.Any(p => p.Key == "BODY" && string.Equals(p.Value, "BINARYMIME", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Reads <paramref name="stream"/> to its end and returns true when it contains a NUL, a bare CR or a bare LF.
    /// The stream is left at its end.
    /// </summary>
    public static async Task<bool> NeedsBinaryTransportAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[BufferSize];
        bool afterCr = false;
        while (true)
        {
            int read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return afterCr;
            }

            foreach (byte b in buffer.AsSpan(0, read))
            {
                bool bare = b switch
                {
                    0 => true,
                    (byte)'\n' => !afterCr,
                    _ => afterCr,
                };
                if (bare)
                {
                    return true;
                }

                afterCr = b == (byte)'\r';
            }
        }
    }
}

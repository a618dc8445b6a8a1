using System.Security.Cryptography;

namespace Actors.Mta.Core.Spool;

/// <summary>
/// Creates queue ids: 16 characters of base-32 from the time in milliseconds and 40 random bits, so ids
/// sort by arrival and stay unique across restarts without shared state.
/// </summary>
public static class QueueId
{
    private const string Alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZ";

    public static string New()
    {
        Span<char> chars = stackalloc char[16];
        ulong time = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Span<byte> random = stackalloc byte[5];
        RandomNumberGenerator.Fill(random);
        ulong noise = 0;
        foreach (byte b in random)
        {
            noise = (noise << 8) | b;
        }

        for (int i = 8; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(time % 31)];
            time /= 31;
        }

        for (int i = 15; i >= 9; i--)
        {
            chars[i] = Alphabet[(int)(noise % 31)];
            noise /= 31;
        }

        return new string(chars);
    }
}

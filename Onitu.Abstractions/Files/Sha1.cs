using System.Buffers.Binary;
using System.Numerics;

namespace Onitu;

/// <summary>
/// SHA-1 (FIPS 180-4), for the name-based file ids only (<see cref="FileId"/>: RFC 9562 version 5 UUIDs are defined
/// over SHA-1; nothing here is a security use). On Linux, <c>System.Security.Cryptography</c> hashes through OpenSSL,
/// which a sync then loads for the first new file it meets: about 4 MB of every process's memory and a few
/// milliseconds, for hashing a few dozen bytes per file.
/// </summary>
internal static class Sha1
{
    public const int HashSize = 20;
    private const int BlockSize = 64;

    /// <summary>Writes the SHA-1 of <paramref name="input"/> to the first <see cref="HashSize"/> bytes of <paramref name="hash"/>.</summary>
    public static void HashData(ReadOnlySpan<byte> input, Span<byte> hash)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hash.Length, HashSize, nameof(hash));
        Span<uint> state = [0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u];
        Span<uint> schedule = stackalloc uint[80];

        var whole = input.Length - input.Length % BlockSize;
        for (var offset = 0; offset < whole; offset += BlockSize)
            Compress(state, input.Slice(offset, BlockSize), schedule);

        // The padding: 0x80, zeros, then the length in bits (big-endian), in one block or two.
        Span<byte> tail = stackalloc byte[2 * BlockSize];
        tail.Clear();
        var rest = input[whole..];
        rest.CopyTo(tail);
        tail[rest.Length] = 0x80;
        var tailLength = rest.Length + 1 + 8 <= BlockSize ? BlockSize : 2 * BlockSize;
        BinaryPrimitives.WriteUInt64BigEndian(tail.Slice(tailLength - 8, 8), (ulong)input.Length * 8);
        for (var offset = 0; offset < tailLength; offset += BlockSize)
            Compress(state, tail.Slice(offset, BlockSize), schedule);

        for (var i = 0; i < 5; i++)
            BinaryPrimitives.WriteUInt32BigEndian(hash.Slice(4 * i, 4), state[i]);
    }

    private static void Compress(Span<uint> state, ReadOnlySpan<byte> block, Span<uint> w)
    {
        for (var t = 0; t < 16; t++)
            w[t] = BinaryPrimitives.ReadUInt32BigEndian(block.Slice(4 * t, 4));
        for (var t = 16; t < 80; t++)
            w[t] = BitOperations.RotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

        uint a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
        for (var t = 0; t < 80; t++)
        {
            uint f, k;
            if (t < 20)
            {
                f = (b & c) | (~b & d);
                k = 0x5A827999u;
            }
            else if (t < 40)
            {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1u;
            }
            else if (t < 60)
            {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDCu;
            }
            else
            {
                f = b ^ c ^ d;
                k = 0xCA62C1D6u;
            }
            var next = BitOperations.RotateLeft(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = BitOperations.RotateLeft(b, 30);
            b = a;
            a = next;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
    }
}

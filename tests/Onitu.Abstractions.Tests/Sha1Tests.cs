using System.Security.Cryptography;
using System.Text;

namespace Onitu.Abstractions.Tests;

/// <summary>The file ids' own SHA-1 gives what the platform's gives, at every length around the block boundaries.</summary>
public class Sha1Tests
{
    [Test]
    public void Every_length_up_to_three_blocks_hashes_as_the_platform_does()
    {
        var random = new Random(1234);
        Span<byte> ours = stackalloc byte[Sha1.HashSize];
        for (var length = 0; length <= 3 * 64 + 1; length++)
        {
            var input = new byte[length];
            random.NextBytes(input);
            Sha1.HashData(input, ours);
            Assert.That(ours.ToArray(), Is.EqualTo(SHA1.HashData(input)), $"{length} bytes");
        }
    }

    [Test]
    public void The_standard_examples_hash_to_their_published_digests()
    {
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.HashData(Encoding.ASCII.GetBytes("abc"), hash);
        Assert.That(Convert.ToHexStringLower(hash), Is.EqualTo("a9993e364706816aba3e25717850c26c9cd0d89d"));
        Sha1.HashData(Encoding.ASCII.GetBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), hash);
        Assert.That(Convert.ToHexStringLower(hash), Is.EqualTo("84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    }
}

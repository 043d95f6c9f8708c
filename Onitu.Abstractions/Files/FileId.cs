using System.Buffers.Binary;
using System.Text;

namespace Onitu;

/// <summary>
/// Computes file ids (fids): name-based UUIDs (RFC 9562 version 5) over <c>"{folder}:{path}"</c> in the Onitu
/// namespace, exactly as the original <c>onitu.utils.get_fid(folder, filename)</c> did, so the same relative
/// path in two folders is two files and a fid never depends on which service saw the file.
/// </summary>
public static class FileId
{
    /// <summary>The Onitu namespace UUID (<c>NAMESPACE_ONITU</c> of the original implementation).</summary>
    public static readonly Guid Namespace = new("bcd336f2-d023-4856-bc92-e79dd24b64d7");

    /// <summary>Returns the fid of <paramref name="path"/> inside <paramref name="folder"/>.</summary>
    /// <param name="folder">The folder name, as written in the setup.</param>
    /// <param name="path">The path relative to the folder, with <c>/</c> separators (see <see cref="FilePath.Normalize"/>).</param>
    public static Guid Compute(string folder, string path)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(path);
        return CreateVersion5(Namespace, folder + ":" + path);
    }

    /// <summary>Creates a version 5 (SHA-1, name-based) UUID, RFC 9562 §5.5.</summary>
    internal static Guid CreateVersion5(Guid ns, string name)
    {
        Span<byte> nsBytes = stackalloc byte[16];
        // Guid's in-memory layout is little-endian for its first three fields; RFC UUIDs are big-endian.
        ns.TryWriteBytes(nsBytes, bigEndian: true, out _);

        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[16 + nameBytes.Length];
        nsBytes.CopyTo(input);
        nameBytes.CopyTo(input, 16);

        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.HashData(input, hash);
        var uuid = hash[..16];
        uuid[6] = (byte)((uuid[6] & 0x0F) | 0x50);
        uuid[8] = (byte)((uuid[8] & 0x3F) | 0x80);
        return new Guid(uuid, bigEndian: true);
    }
}

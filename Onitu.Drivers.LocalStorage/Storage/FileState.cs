using System.Globalization;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// What the disk says of a file: its size and last write time, from which its revision is derived. A rename keeps
/// both, so the revision of a temporary file is the revision of the file it becomes.
/// </summary>
internal readonly record struct FileState(long Size, DateTime LastWriteTimeUtc)
{
    /// <summary>The revision string: <c>{size}-{last write time in UTC ticks}</c>.</summary>
    public string Revision => string.Create(CultureInfo.InvariantCulture, $"{Size}-{LastWriteTimeUtc.Ticks}");

    /// <summary>Reads the state of the regular file at <paramref name="fullPath"/>; null when there is none.</summary>
    /// <remarks>
    /// Directories and symbolic links count as "no file": links are not synced (as rclone's local backend by default),
    /// since writing through them or replacing them would both surprise someone.
    /// </remarks>
    public static FileState? TryRead(string fullPath)
    {
        var info = new FileInfo(fullPath);
        // FileInfo swallows stat errors into Exists == false, which is what we want for a file that just vanished.
        if (!info.Exists || (info.Attributes & FileAttributes.ReparsePoint) != 0)
            return null;
        return new FileState(info.Length, info.LastWriteTimeUtc);
    }

    /// <summary>Sets the revision, size and modification time of <paramref name="metadata"/>.</summary>
    public void ApplyTo(Metadata metadata)
    {
        metadata.Revision = Revision;
        metadata.Size = Size;
        metadata.ModifiedAt = new DateTimeOffset(LastWriteTimeUtc.Ticks, TimeSpan.Zero);
    }

    /// <summary>Creates the metadata of a file found on disk, with this state.</summary>
    public Metadata ToMetadata(string folder, string path)
    {
        var metadata = new Metadata(folder, path);
        ApplyTo(metadata);
        return metadata;
    }
}
